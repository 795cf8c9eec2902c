package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authd/authd/devtools/loadreport"
	"github.com/authd/authd/internal/argon2id"
	"github.com/authd/authd/internal/testenv"
)

// Phase 6 times failed logins: an address nobody registered against a
// registered address with a wrong password. authd verifies a password in
// both cases (a dummy hash made with the same parameters for the unknown
// address), so the two should take the same time; if they did not, a
// client could tell which addresses have an account. The test suite checks
// the structure (the same calls in the same order, see
// internal/httpapi's TestLoginWorkDoesNotRevealAccounts); wall-clock times
// are a figure of the bench, never a threshold: no ratio fails it.

const (
	pathLogin    = "/api/v1/auth/login"
	pathRegister = "/api/v1/auth/register"

	// timingPassword is the candidate password of every timed login, on
	// both sides, so the hasher gets the same input.
	timingPassword = "wrong-password-for-timing"
)

// timingPair is one pair of failed logins: how long each took (request
// start to the end of the body, as authd-load and k6 measure) and what it
// was answered.
type timingPair struct {
	Unknown, Wrong             time.Duration
	UnknownStatus, WrongStatus int
}

// timingSide is the latency of one kind of failed login, over the logins
// answered 401.
type timingSide struct {
	N                             int
	MedianMs, P90Ms, MinMs, MaxMs float64
}

// timingResult is what the phase reports.
type timingResult struct {
	Pairs          int
	Unknown, Wrong timingSide
	// Ratio is Unknown.MedianMs ÷ Wrong.MedianMs; 0 when a side has no
	// 401 at all.
	Ratio float64
	// DiffMedianMs is the median over pairs (both 401) of unknown − wrong:
	// the same comparison with the drift of the machine taken out.
	DiffMedianMs float64
	DiffN        int
	// Other counts the answers that were not 401, by side and status
	// ("unknown 429"); they are left out of every latency above.
	Other map[string]int
}

// OtherCount is the number of answers that were not 401.
func (r timingResult) OtherCount() int {
	n := 0
	for _, v := range r.Other {
		n += v
	}
	return n
}

// sideOf summarises latencies in milliseconds (in any order).
func sideOf(ms []float64) timingSide {
	if len(ms) == 0 {
		return timingSide{}
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	return timingSide{N: len(s), MedianMs: loadreport.Percentile(s, 50), P90Ms: loadreport.Percentile(s, 90), MinMs: s[0], MaxMs: s[len(s)-1]}
}

// summarizeTiming turns the pairs into the phase's figures. Only 401s
// count: a 429 (lock-out) or 503 (shed) is a different code path, so its
// time says nothing about the comparison.
func summarizeTiming(pairs []timingPair) timingResult {
	r := timingResult{Pairs: len(pairs), Other: map[string]int{}}
	var unknown, wrong, diff []float64
	for _, p := range pairs {
		u, w := ms(p.Unknown), ms(p.Wrong)
		uOK, wOK := p.UnknownStatus == http.StatusUnauthorized, p.WrongStatus == http.StatusUnauthorized
		if uOK {
			unknown = append(unknown, u)
		} else {
			r.Other["unknown "+strconv.Itoa(p.UnknownStatus)]++
		}
		if wOK {
			wrong = append(wrong, w)
		} else {
			r.Other["wrong "+strconv.Itoa(p.WrongStatus)]++
		}
		if uOK && wOK {
			diff = append(diff, u-w)
		}
	}
	r.Unknown, r.Wrong = sideOf(unknown), sideOf(wrong)
	if r.Unknown.N > 0 && r.Wrong.N > 0 && r.Wrong.MedianMs > 0 {
		r.Ratio = r.Unknown.MedianMs / r.Wrong.MedianMs
	}
	if len(diff) > 0 {
		slices.Sort(diff)
		r.DiffMedianMs, r.DiffN = loadreport.Percentile(diff, 50), len(diff)
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fmtSignedMs is fmtMs with an explicit sign, for differences.
func fmtSignedMs(v float64) string {
	if v < 0 {
		return "−" + fmtMs(-v)
	}
	return "+" + fmtMs(v)
}

// timingFigures are the phase's figures. None has a target except the
// count of answers that were not 401: those would void the comparison, not
// measure it.
func timingFigures(r timingResult) []Figure {
	side := func(name string, s timingSide) Figure {
		f := Figure{Name: name + ": median / p90", Value: s.MedianMs, NoData: s.N == 0}
		if s.N == 0 {
			f.Text, f.Note = "—", "no login answered 401"
			return f
		}
		f.Text = fmtMs(s.MedianMs) + " / " + fmtMs(s.P90Ms)
		f.Note = fmt.Sprintf("%d logins answered 401; min %s, max %s", s.N, fmtMs(s.MinMs), fmtMs(s.MaxMs))
		return f
	}
	ratio := Figure{Name: "Ratio of medians (unknown e-mail ÷ wrong password)", Value: r.Ratio, Text: "—",
		NoData: r.Ratio == 0, Note: "a figure, not a target: 1.000 is the same time"}
	if r.Ratio > 0 {
		ratio.Text = strconv.FormatFloat(r.Ratio, 'f', 3, 64)
	}
	diff := Figure{Name: "Median of the per-pair differences (unknown − wrong)", Value: r.DiffMedianMs, Text: "—",
		NoData: r.DiffN == 0, Note: "each pair's two logins ran back to back, so the machine's drift cancels"}
	if r.DiffN > 0 {
		diff.Text = fmtSignedMs(r.DiffMedianMs)
		diff.Note = fmt.Sprintf("over %d pairs; ", r.DiffN) + diff.Note
	}
	other := r.OtherCount()
	note := "429 would be a lock-out, 503 a shed login: a different code path"
	if other > 0 {
		note = statusList(r.Other) + "; " + note
	}
	return []Figure{
		{Name: "Pairs timed", Value: float64(r.Pairs), Text: fmtCount(int64(r.Pairs)),
			Note: "one client, one request at a time, after one warm-up pair that is not counted"},
		side("Unknown e-mail", r.Unknown),
		side("Wrong password", r.Wrong),
		ratio,
		diff,
		{Name: "Timed logins not answered 401", Value: float64(other), Text: fmtCount(int64(other)),
			Target: &Target{Op: Equal, Limit: 0, Text: "0 (else the comparison is void)"}, Note: note},
	}
}

// whyTiming says what the ratio means, and what this run measured.
func whyTiming(r timingResult, oneHashNs float64) []string {
	out := []string{"**What the ratio means.** Both kinds of login cost one Argon2id verification, one identity lookup and " +
		"the same throttle and audit work, so the ratio of medians should be 1.0 within the noise of a shared machine. " +
		"A ratio well below 1.0 would mean logins for unknown addresses skip work (no dummy verification, or a cheaper " +
		"one): a client could then tell registered addresses from unregistered ones by the response time alone, which is " +
		"account enumeration despite the identical 401. A ratio well above 1.0 would leak the same fact the other way " +
		"(the unknown path doing extra work, e.g. a dummy hash with heavier parameters). The ratio is reported, " +
		"never held to a limit: the bench does not fail on it."}
	if r.Ratio > 0 {
		s := fmt.Sprintf("In this run the medians were %s (unknown) and %s (wrong password), a ratio of %.3f; the per-pair "+
			"differences had a median of %s. For scale, the gap from median to p90 was %s and %s.",
			fmtMs(r.Unknown.MedianMs), fmtMs(r.Wrong.MedianMs), r.Ratio, fmtSignedMs(r.DiffMedianMs),
			fmtMs(r.Unknown.P90Ms-r.Unknown.MedianMs), fmtMs(r.Wrong.P90Ms-r.Wrong.MedianMs))
		if oneHashNs > 0 {
			s += fmt.Sprintf(" One hash alone took %s in phase 1: a missing verification would show as a difference of about that much.",
				fmtNs(oneHashNs))
		}
		out = append(out, s)
	}
	if r.OtherCount() > 0 {
		out = append(out, "Some timed logins were not answered 401 ("+statusList(r.Other)+"); they are left out of the latencies. "+
			"A 429 means a lock-out the phase should have avoided (see how it spreads the wrong passwords over accounts); "+
			"a 503 means the hash pool shed the login, i.e. something else was loading authd.")
	}
	return out
}

// wrongPerAccount is how many wrong passwords one account may take without
// being locked: LOGIN_ACCOUNT_FREE_ATTEMPTS failures are free, the next
// one locks. free 0 turns the lock-out off; free < 0 (not known) allows
// one per account, which cannot lock whatever the setting.
func wrongPerAccount(free, total int) int {
	switch {
	case free < 0:
		return 1
	case free == 0:
		return max(total, 1)
	}
	return free
}

// accountFreeAttempts is authd's LOGIN_ACCOUNT_FREE_ATTEMPTS: what the
// bench set, else the default from --help; -1 when neither is known.
func (b *bench) accountFreeAttempts() (int, string) {
	const name = "LOGIN_ACCOUNT_FREE_ATTEMPTS"
	v, from := "", ""
	for _, kv := range b.authd.env {
		if k, val, _ := strings.Cut(kv, "="); k == name {
			v, from = val, "set by the bench"
		}
	}
	if from == "" {
		v, from = b.defaults[name], "authd's default"
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return -1, "not known"
	}
	return n, from
}

// timingClient sends the phase's requests: one keep-alive connection, no
// cookies, one request at a time.
type timingClient struct {
	c    *http.Client
	base string
}

func newTimingClient(base string) *timingClient {
	return &timingClient{base: base, c: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true},
	}}
}

// post sends one JSON request and times it from just before it is sent to
// the end of the body.
func (tc *timingClient) post(ctx context.Context, path, email, password string) (time.Duration, int, error) {
	body, err := json.Marshal(map[string]string{"identifier": email, "password": password})
	if err != nil {
		return 0, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tc.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := tc.c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return time.Since(start), resp.StatusCode, err
}

// argon2Shown is the hasher's parameters as authd runs them: its defaults
// from --help (the bench does not set them), else the package's.
func (b *bench) argon2Shown() string {
	dp := argon2id.DefaultParams()
	get := func(name string, def uint32) string {
		return cmp.Or(b.defaults[name], strconv.FormatUint(uint64(def), 10))
	}
	return fmt.Sprintf("m=%s t=%s p=%s", get("ARGON2_MEMORY_KIB", dp.Memory), get("ARGON2_ITERATIONS", dp.Iterations),
		get("ARGON2_PARALLELISM", uint32(dp.Parallelism)))
}

func (b *bench) phaseLoginTiming(ctx context.Context) Phase {
	n := b.d.timingPairs
	free, freeFrom := b.accountFreeAttempts()
	per := wrongPerAccount(free, n+1) // n pairs and the warm-up pair
	accounts := (n + 1 + per - 1) / per
	id := testenv.RandomName("")
	unknownAddr := func(i int) string { return fmt.Sprintf("timing-%s-nobody-%d@example.com", id, i) }
	accountAddr := func(k int) string { return fmt.Sprintf("timing-%s-user-%d@example.com", id, k) }

	lockText := fmt.Sprintf("`LOGIN_ACCOUNT_FREE_ATTEMPTS` is %d (%s): an account's first %d failures are free and the next "+
		"locks it (that one still answers 401 but trips the lock, the ones after answer 429), so the wrong passwords go to %d "+
		"throwaway accounts registered when the phase starts, at most %d each: no timed login trips a lock, and the seeded "+
		"user of the other phases (`%s`) is left alone.", free, freeFrom, free, accounts, per, seedEmail)
	switch {
	case free == 0:
		lockText = fmt.Sprintf("`LOGIN_ACCOUNT_FREE_ATTEMPTS` is 0 (%s): no account lock-out, so the wrong passwords all go to one "+
			"throwaway account registered when the phase starts, and the seeded user of the other phases is left alone.", freeFrom)
	case free < 0:
		lockText = fmt.Sprintf("`LOGIN_ACCOUNT_FREE_ATTEMPTS` is not known, so each wrong password goes to a throwaway account of "+
			"its own (%d, registered when the phase starts): none can be locked, and the seeded user is left alone.", accounts)
	}
	ph := Phase{
		Title: "Login timing: unknown e-mail vs wrong password",
		Intro: fmt.Sprintf("%d pairs of failed logins (`POST %s`), sent by the bench itself over one keep-alive connection, one "+
			"request at a time, with no load running. Each pair is a login with an address nobody registered (a new one "+
			"each time) and a login with a registered address and a wrong password, both with the same candidate password "+
			"and both expected to answer 401; the order within a pair alternates, so neither side is always first. One "+
			"warm-up pair, not counted, opens the connection and makes authd compute its dummy hash (once per process). "+
			"Latency runs from sending the request to the end of the body. Argon2id runs with authd's shipped parameters "+
			"(%s). %s The per-IP lock-out is off (`LOGIN_IP_FREE_ATTEMPTS=0`, as for every phase), so the loopback client "+
			"is not locked either.", n, pathLogin, b.argon2Shown(), lockText),
	}
	pairsFlag := fmt.Sprintf("-timing-pairs=%d", n)
	ph.Runs = []Run{
		{Label: "this phase alone (the bench starts its own authd, as in *authd settings*)",
			Command: "go run " + benchPkg + " -only=login-timing " + pairsFlag + " -out /tmp/b.md"},
		{Label: fmt.Sprintf("by hand against a running authd, %d pairs per registered account (curl opens a connection per request, "+
			"so its times include a TCP connect on both sides alike)", min(per, 5)),
			Command: timingCurl(b.authd.baseURL, min(per, 5))},
	}
	if n <= 0 {
		ph.Err = "no pairs to time (-timing-pairs)"
		return ph
	}

	for k := range accounts {
		// Registration in open mode answers 201; the account then has a
		// random password no timed login uses.
		if _, err := seedUser(ctx, b.authd.baseURL, accountAddr(k), "Tm-"+testenv.RandomName("")); err != nil {
			ph.Err = "registering the wrong-password accounts: " + err.Error()
			return ph
		}
	}
	b.logf("phase 6: %d pairs of failed logins, %d wrong-password accounts (%d failures each at most)", n, accounts, per)

	tc := newTimingClient(b.authd.baseURL)
	defer tc.c.CloseIdleConnections()
	var pairs []timingPair
	for i := 0; i <= n; i++ { // i == 0 is the warm-up pair
		var p timingPair
		unknown := func() (err error) {
			p.Unknown, p.UnknownStatus, err = tc.post(ctx, pathLogin, unknownAddr(i), timingPassword)
			return err
		}
		wrong := func() (err error) {
			p.Wrong, p.WrongStatus, err = tc.post(ctx, pathLogin, accountAddr(i/per), timingPassword)
			return err
		}
		first, second := unknown, wrong
		if i%2 == 1 {
			first, second = wrong, unknown
		}
		if err := first(); err != nil {
			ph.Err = fmt.Sprintf("pair %d: %v", i, err)
			break
		}
		if err := second(); err != nil {
			ph.Err = fmt.Sprintf("pair %d: %v", i, err)
			break
		}
		if i > 0 {
			pairs = append(pairs, p)
		}
	}
	if ctx.Err() != nil {
		return ph
	}
	r := summarizeTiming(pairs)
	ph.Figures = timingFigures(r)
	ph.Why = whyTiming(r, b.oneHashNs)
	if ph.Err == "" && (r.Unknown.N == 0 || r.Wrong.N == 0) {
		ph.Err = "no 401 on one side: " + statusList(r.Other)
	}
	b.logf("phase 6: unknown median %s p90 %s, wrong password median %s p90 %s, ratio %.3f",
		fmtMs(r.Unknown.MedianMs), fmtMs(r.Unknown.P90Ms), fmtMs(r.Wrong.MedianMs), fmtMs(r.Wrong.P90Ms), r.Ratio)
	return ph
}

// timingCurl is the phase by hand: register one account, then time
// pairs against it (no more than the account's free failures).
func timingCurl(base string, pairs int) string {
	post := func(label, path, body string) string {
		return fmt.Sprintf(`curl -s -o /dev/null -w '%s %%{http_code} %%{time_total}s\n' -H 'Content-Type: application/json' -d "%s" "$BASE%s"`,
			label, body, path)
	}
	cred := func(email, pw string) string {
		return fmt.Sprintf(`{\"identifier\":\"%s\",\"password\":\"%s\"}`, email, pw)
	}
	lines := []string{
		"BASE=" + base + "; ID=$(date +%s)",
		post("register", pathRegister, cred("timing-$ID-user@example.com", "Tm-$ID-$RANDOM$RANDOM")) + "   # 201",
		fmt.Sprintf("for i in $(seq %d); do", pairs),
		"  " + post("unknown", pathLogin, cred("timing-$ID-nobody-$i@example.com", timingPassword)),
		"  " + post("wrong", pathLogin, cred("timing-$ID-user@example.com", timingPassword)),
		"done",
	}
	return strings.Join(lines, "\n  ")
}
