package postgres

// SetBackfillBatch makes the backfill read n rows at a time, so that a test
// crosses batch boundaries with a handful of rows.
func (m *Migrator) SetBackfillBatch(n int) { m.batch = n }
