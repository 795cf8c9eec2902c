package hashpool

import "syscall"

// setThreadNice lowers the calling thread's priority. On Linux niceness is
// per thread; a failure (no permission) leaves the normal priority.
func setThreadNice(nice int) {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
}
