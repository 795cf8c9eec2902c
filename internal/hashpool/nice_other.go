//go:build !linux

package hashpool

// setThreadNice is a no-op where threads have no niceness of their own.
func setThreadNice(int) {}
