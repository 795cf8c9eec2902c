// Package authtest holds in-memory fakes of the ports that package auth
// declares, and a contract suite that every implementation of a port, fake
// or real, must pass.
//
// The fakes are safe for concurrent use. Each embeds a Probe, which counts
// the calls made to it and injects faults: SetErr makes every call fail,
// FailOn makes one method fail. Time is never read by a fake unless it is
// given a clock; the throttles take `now` from the caller, as the real
// adapters do.
//
// The contract functions (TestIdentityStore, TestTokenStore, TestSessions,
// TestLockouts, TestRateLimiter, TestProfileCache, TestAuditLog,
// TestTransactor, TestFactorStore, TestChallenges, and for the admin
// queries TestIdentityQueries and TestAuditQueries) are called from a test of the adapter's package with a
// constructor of the implementation under test. They assert what the port
// documents and never sleep: every time they depend on is passed in.
//
// This package imports only package auth, the standard library and
// github.com/google/uuid, so that adapter packages can use it in their
// tests.
package authtest
