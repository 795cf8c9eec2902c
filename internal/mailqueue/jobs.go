package mailqueue

import "github.com/riverqueue/river"

// Jobs are the jobs of another adapter that run on the queue's River
// client. One client per process, because River runs its maintenance
// (rescuing jobs of dead instances, scheduling retries, cleaning, periodic
// jobs) on the one elected leader, under that client's configuration: a
// second client could win the election and run none of this queue's.
type Jobs interface {
	Queue() string   // the River queue they are worked from
	MaxWorkers() int // how many at once on this instance; 0: none
	AddWorkers(w *river.Workers)
	// PeriodicJobs run on the leader alone (River's periodic jobs).
	PeriodicJobs() []*river.PeriodicJob
}
