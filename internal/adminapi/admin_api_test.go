package adminapi_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/authd/authd/internal/adminapi"
	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/postgres"
	"github.com/authd/authd/internal/testenv"
)

type identityBody struct {
	ID            uuid.UUID `json:"id"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	Username      *string   `json:"username"`
	State         string    `json:"state"`
	HasPassword   bool      `json:"has_password"`
	Factors       struct {
		TOTP              bool `json:"totp"`
		Passkeys          int  `json:"passkeys"`
		RecoveryCodesLeft int  `json:"recovery_codes_left"`
	} `json:"factors"`
	CreatedAt time.Time `json:"created_at"`
}

type pageBody struct {
	Identities []identityBody `json:"identities"`
	NextCursor *string        `json:"next_cursor"`
}

const password = "correct horse battery staple"

// create makes an identity through the admin API.
func (in *instance) create(t *testing.T, body map[string]any) identityBody {
	t.Helper()
	r := in.call(t, http.MethodPost, "/admin/v1/identities", body)
	wantStatus(t, r, http.StatusCreated)
	var out identityBody
	r.decode(t, &out)
	return out
}

func login(t *testing.T, c *publicClient, email, pw string) response {
	t.Helper()
	return c.do(t, http.MethodPost, "/api/v1/auth/login", map[string]string{"identifier": email, "password": pw})
}

func auditCount(t *testing.T) int {
	t.Helper()
	var n int
	if err := testDB.Pool().QueryRow(context.Background(), `SELECT count(*) FROM audit_events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAdminNeedsAToken: without a token, with a wrong one and with a
// revoked one every call is 401 and writes nothing; a valid token's calls
// are audit events naming it.
func TestAdminNeedsAToken(t *testing.T) {
	in := newInstance(t, options{})
	other, err := adminapi.CreateToken(in.tokens, "ci")
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.New().String()
	calls := []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/admin/v1/identities", nil},
		{http.MethodPost, "/admin/v1/identities", map[string]any{"email": newEmail("refused"), "password": password}},
		{http.MethodGet, "/admin/v1/identities/" + id, nil},
		{http.MethodPatch, "/admin/v1/identities/" + id, map[string]any{"state": "inactive"}},
		{http.MethodDelete, "/admin/v1/identities/" + id, nil},
		{http.MethodGet, "/admin/v1/identities/" + id + "/sessions", nil},
		{http.MethodDelete, "/admin/v1/identities/" + id + "/sessions", nil},
		{http.MethodDelete, "/admin/v1/identities/" + id + "/sessions/x", nil},
		{http.MethodPost, "/admin/v1/identities/" + id + "/recovery-link", nil},
		{http.MethodDelete, "/admin/v1/identities/" + id + "/second-factors", nil},
		{http.MethodGet, "/admin/v1/audit-events", nil},
	}
	if got := len(calls); got != len(adminContract(t).operations())-1 {
		t.Errorf("%d calls tried, but the document has %d operations besides itself", got, len(adminContract(t).operations())-1)
	}
	refused := func(name string, header ...string) {
		t.Helper()
		before := auditCount(t)
		for _, c := range calls {
			r := send(t, in.admin.URL, c.method, c.path, c.body, header...)
			adminContract(t).check(t, r)
			if r.StatusCode != http.StatusUnauthorized || r.problem(t).Code != "unauthenticated" || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: %s %s = %d %s, want 401 unauthenticated with WWW-Authenticate", name, c.method, c.path, r.StatusCode, r.body)
			}
		}
		if after := auditCount(t); after != before {
			t.Errorf("%s: refused calls wrote %d audit events", name, after-before)
		}
	}
	refused("no token")
	refused("a wrong token", "Authorization", "Bearer authd_adm_"+strings.Repeat("A", 43))
	refused("another scheme", "Authorization", "Basic "+in.token)
	refused("the token without its scheme", "Authorization", in.token)

	// A valid token works, and its calls name it.
	wantStatus(t, in.callWith(t, other, http.MethodGet, "/admin/v1/identities?page_size=1", nil), http.StatusOK)
	if err := adminapi.RevokeToken(in.tokens, "ci"); err != nil {
		t.Fatal(err)
	}
	refused("a revoked token", "Authorization", "Bearer "+other)
	// The token left in the file still works.
	created := in.create(t, map[string]any{"email": newEmail("ops"), "password": password})
	r := in.call(t, http.MethodGet, "/admin/v1/audit-events?identity_id="+created.ID.String(), nil)
	wantStatus(t, r, http.StatusOK)
	var page struct {
		Events []struct {
			Event string `json:"event"`
			Actor string `json:"actor"`
			IP    string `json:"ip"`
		} `json:"events"`
	}
	r.decode(t, &page)
	if len(page.Events) != 1 || page.Events[0].Event != "admin_identity_created" || page.Events[0].Actor != "admin:ops" || page.Events[0].IP == "" {
		t.Errorf("audit of the creation = %+v, want admin_identity_created by admin:ops with its IP", page.Events)
	}
	// The query itself is an event too, as every call is.
	r = in.call(t, http.MethodGet, "/admin/v1/audit-events?event=admin_audit_queried&page_size=1", nil)
	r.decode(t, &page)
	if len(page.Events) != 1 || page.Events[0].Actor != "admin:ops" {
		t.Errorf("audit of the audit query = %+v", page.Events)
	}
	// The file may disappear: no token is accepted then.
	if err := os.Remove(in.tokens); err != nil {
		t.Fatal(err)
	}
	refused("a token whose file is gone", "Authorization", "Bearer "+in.token)
}

// TestAdminIsNotOnThePublicPort: the public listener routes nothing under
// /admin/v1, with or without a token.
func TestAdminIsNotOnThePublicPort(t *testing.T) {
	in := newInstance(t, options{})
	for _, p := range []string{"/admin/v1/identities", "/admin/v1/audit-events", "/admin/v1/openapi.yaml", "/admin/v1/identities/" + uuid.NewString()} {
		r := send(t, in.public.URL, http.MethodGet, p, nil, "Authorization", "Bearer "+in.token)
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("public GET %s = %d, want 404", p, r.StatusCode)
		}
	}
	// And the admin listener serves no public route.
	if r := send(t, in.admin.URL, http.MethodGet, "/api/v1/auth/me", nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("admin GET /api/v1/auth/me = %d, want 404", r.StatusCode)
	}
	r := send(t, in.admin.URL, http.MethodGet, "/admin/v1/openapi.yaml", nil)
	adminContract(t).check(t, r)
	wantStatus(t, r, http.StatusOK)
}

// TestAdminEveryRouteIsDocumented compares the admin routes with the
// admin OpenAPI document in both directions.
func TestAdminEveryRouteIsDocumented(t *testing.T) {
	in := newInstance(t, options{})
	documented := map[string]bool{}
	for _, op := range adminContract(t).operations() {
		documented[op] = true
	}
	served := map[string]bool{}
	for _, r := range adminRoutes(in) {
		served[r] = true
		if !documented[r] {
			t.Errorf("admin route %s is not in api/admin-openapi.yaml", r)
		}
	}
	for op := range documented {
		if !served[op] {
			t.Errorf("api/admin-openapi.yaml documents %s, which the admin API does not serve", op)
		}
	}
}

// TestAdminListFiltersAndPages: a few hundred identities page by page in a
// stable order, without repeats or gaps, while identities are added and
// removed between pages; each filter narrows the list as it says.
func TestAdminListFiltersAndPages(t *testing.T) {
	in := newInstance(t, options{})
	tag := "page" + strings.ToLower(testenv.RandomName(""))
	store := postgres.NewIdentityStore(testDB)
	factors := postgres.NewFactorStore(testDB)
	ctx := context.Background()
	base := time.Now().UTC().Truncate(time.Microsecond).Add(-time.Hour)
	var made []auth.Identity
	for i := range 300 {
		email, err := auth.ParseEmail(newEmail(tag))
		if err != nil {
			t.Fatal(err)
		}
		// Ten at each instant: the order falls back to the id.
		at := base.Add(time.Duration(i/10) * time.Second)
		id := auth.Identity{ID: uuid.Must(uuid.NewV7()), Email: email, PasswordHash: "", State: auth.StateActive, CreatedAt: at, UpdatedAt: at}
		if i%4 == 0 {
			id.State = auth.StateInactive
		}
		if i%3 == 0 {
			id.EmailVerifiedAt = &at
		}
		if i == 7 {
			id.Username = tag
		}
		if err := store.CreateIdentity(ctx, id); err != nil {
			t.Fatal(err)
		}
		made = append(made, id)
	}
	for _, i := range []int{5, 50, 250} {
		if err := factors.PutPendingTOTP(ctx, made[i].ID, []byte("sealed"), base); err != nil {
			t.Fatal(err)
		}
		if ok, err := factors.UseTOTPStep(ctx, made[i].ID, 1, true, base); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}

	// Page through with identities added and removed meanwhile.
	var seen []uuid.UUID
	cursor := ""
	for pages := 0; ; pages++ {
		q := url.Values{"email_prefix": {tag + "."}, "page_size": {"37"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		r := in.call(t, http.MethodGet, "/admin/v1/identities?"+q.Encode(), nil)
		wantStatus(t, r, http.StatusOK)
		var page pageBody
		r.decode(t, &page)
		for _, id := range page.Identities {
			seen = append(seen, id.ID)
		}
		if pages == 2 {
			// One created before the cursor, one after; one not yet seen removed.
			early, _ := auth.ParseEmail(tag + ".early@example.com")
			late, _ := auth.ParseEmail(tag + ".late@example.com")
			for _, x := range []auth.Identity{
				{ID: uuid.Must(uuid.NewV7()), Email: early, State: auth.StateActive, CreatedAt: base.Add(-time.Minute), UpdatedAt: base},
				{ID: uuid.Must(uuid.NewV7()), Email: late, State: auth.StateActive, CreatedAt: base.Add(time.Hour), UpdatedAt: base},
			} {
				if err := store.CreateIdentity(ctx, x); err != nil {
					t.Fatal(err)
				}
			}
			if err := store.DeleteIdentity(ctx, made[299].ID); err != nil {
				t.Fatal(err)
			}
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
		if pages > 20 {
			t.Fatal("the pages never end")
		}
	}
	var want []uuid.UUID
	for _, m := range sortedByCreation(made[:299]) {
		want = append(want, m.ID)
	}
	if len(seen) != len(want)+1 {
		t.Fatalf("pages gave %d identities, want the %d kept and the one added after the cursor", len(seen), len(want))
	}
	if !slices.Equal(seen[:len(want)], want) {
		t.Errorf("the pages are not the identities in creation order without repeats or gaps")
	}

	count := func(q string) []identityBody {
		t.Helper()
		r := in.call(t, http.MethodGet, "/admin/v1/identities?email_prefix="+tag+".&page_size=500&"+q, nil)
		wantStatus(t, r, http.StatusOK)
		var page pageBody
		r.decode(t, &page)
		return page.Identities
	}
	expect := func(keep func(i int) bool) int {
		n := 0
		for i := range 299 {
			if keep(i) {
				n++
			}
		}
		return n
	}
	tests := []struct {
		name  string
		query string
		want  int
	}{
		{"inactive", "state=inactive", expect(func(i int) bool { return i%4 == 0 })},
		{"verified", "verified=true", expect(func(i int) bool { return i%3 == 0 })},
		// and the two added while paging
		{"unverified and active", "verified=false&state=active", expect(func(i int) bool { return i%3 != 0 && i%4 != 0 }) + 2},
		{"with a second factor", "has_second_factor=true", 3},
		{"created in a range", "created_after=" + url.QueryEscape(base.Add(10*time.Second).Format(time.RFC3339Nano)) +
			"&created_before=" + url.QueryEscape(base.Add(12*time.Second).Format(time.RFC3339Nano)), 20},
		{"username", "username=" + strings.ToUpper(tag), 1},
	}
	for _, tt := range tests {
		if got := count(tt.query); len(got) != tt.want {
			t.Errorf("%s: %d identities, want %d", tt.name, len(got), tt.want)
		}
	}
	exact := in.call(t, http.MethodGet, "/admin/v1/identities?email="+url.QueryEscape(strings.ToUpper(made[42].Email.String())), nil)
	var page pageBody
	exact.decode(t, &page)
	if len(page.Identities) != 1 || page.Identities[0].ID != made[42].ID || page.Identities[0].HasPassword {
		t.Errorf("exact address: %+v", page.Identities)
	}

	// Malformed filters name the parameter; unknown ones are refused.
	for q, field := range map[string]string{
		"verified=maybe": "verified", "state=banned": "state", "page_size=0": "page_size", "page_size=501": "page_size",
		"created_after=yesterday": "created_after", "cursor=nonsense": "cursor", "emial=a@b.example": "emial",
		"email=not-an-address": "email",
	} {
		r := in.call(t, http.MethodGet, "/admin/v1/identities?"+q, nil)
		p := r.problem(t)
		if r.StatusCode != http.StatusUnprocessableEntity || len(p.Errors) == 0 || p.Errors[0].Field != field {
			t.Errorf("?%s: %d %.300s, want 422 naming %s", q, r.StatusCode, r.body, field)
		}
	}
}

// adminRoutes lists the admin API's routes as "METHOD /path" in OpenAPI
// syntax.
func adminRoutes(in *instance) []string {
	var out []string
	for _, r := range in.app.AdminHandler.(*echo.Echo).Routes() {
		if strings.HasSuffix(r.Name, "glob..func1") || r.Method == echo.RouteNotFound {
			continue
		}
		path := r.Path
		for _, seg := range strings.Split(path, "/") {
			if strings.HasPrefix(seg, ":") {
				path = strings.Replace(path, seg, "{"+seg[1:]+"}", 1)
			}
		}
		out = append(out, r.Method+" "+path)
	}
	return out
}

func sortedByCreation(list []auth.Identity) []auth.Identity {
	out := slices.Clone(list)
	slices.SortFunc(out, func(a, b auth.Identity) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID.String(), b.ID.String())
	})
	return out
}

// TestAdminDisableEndsSessionsOnEveryInstance: disabling an identity on
// one instance ends its sessions on the others at once, and refuses its
// logins; enabling it lets it in again.
func TestAdminDisableEndsSessionsOnEveryInstance(t *testing.T) {
	a := newInstance(t, options{})
	b := newInstance(t, options{prefix: a.prefix, tokens: a.tokens})
	b.token = a.token
	email := newEmail("disable")
	id := a.create(t, map[string]any{"email": email, "password": password}).ID
	onB := b.client()
	wantStatus(t, login(t, onB, email, password), http.StatusOK)
	wantStatus(t, onB.do(t, http.MethodGet, "/api/v1/auth/me", nil), http.StatusOK)

	r := a.call(t, http.MethodPatch, "/admin/v1/identities/"+id.String(), map[string]any{"state": "inactive"})
	wantStatus(t, r, http.StatusOK)
	var got identityBody
	r.decode(t, &got)
	if got.State != "inactive" {
		t.Errorf("state after disabling = %s", got.State)
	}
	wantStatus(t, onB.do(t, http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
	r = login(t, b.client(), email, password)
	if r.StatusCode != http.StatusUnauthorized || r.problem(t).Code != "invalid_credentials" {
		t.Errorf("login of a disabled identity = %d %s", r.StatusCode, r.body)
	}
	wantStatus(t, b.call(t, http.MethodPatch, "/admin/v1/identities/"+id.String(), map[string]any{"state": "active"}), http.StatusOK)
	wantStatus(t, login(t, b.client(), email, password), http.StatusOK)
}

// TestAdminDeleteRemovesEveryRowAndKey: an identity with sessions, tokens
// and second factors is deleted on one instance: every row and Valkey key
// of it goes (but the fences, which name nobody and expire), its audit
// events stay pseudonymised, and its owner is told.
func TestAdminDeleteRemovesEveryRowAndKey(t *testing.T) {
	in := newInstance(t, options{})
	email := newEmail("delete")
	id := in.create(t, map[string]any{"email": email, "password": password}).ID
	ctx := context.Background()
	factors := postgres.NewFactorStore(testDB)
	if err := factors.PutPendingTOTP(ctx, id, []byte("sealed"), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := factors.ReplaceRecoveryCodes(ctx, id, [][]byte{make([]byte, 32)}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := factors.PasskeyUserHandle(ctx, id, []byte(strings.Repeat("h", 32))); err != nil {
		t.Fatal(err)
	}
	if err := factors.AddPasskey(ctx, auth.Passkey{ID: uuid.New(), IdentityID: id, Name: "Key", CreatedAt: time.Now(),
		NewPasskey: auth.NewPasskey{CredentialID: []byte(uuid.NewString()), PublicKey: []byte("pk")}}); err != nil {
		t.Fatal(err)
	}
	c := in.client()
	wantStatus(t, login(t, c, email, password), http.StatusOK)
	wantStatus(t, c.do(t, http.MethodGet, "/api/v1/auth/me", nil), http.StatusForbidden) // owes the second step: a passkey
	wantStatus(t, in.call(t, http.MethodPost, "/admin/v1/identities/"+id.String()+"/recovery-link", nil), http.StatusCreated)
	tables := []string{"identities", "one_time_tokens", "totp_factors", "recovery_codes", "passkey_users", "passkeys"}
	for _, table := range tables {
		if n := rowsIn(t, table, id); n == 0 {
			t.Fatalf("setup: no %s row", table)
		}
	}
	if len(keysOf(t, in, id)) == 0 {
		t.Fatal("setup: no Valkey key of the identity")
	}

	wantStatus(t, in.call(t, http.MethodDelete, "/admin/v1/identities/"+id.String(), nil), http.StatusNoContent)
	for _, table := range tables {
		if n := rowsIn(t, table, id); n != 0 {
			t.Errorf("%s still holds %d rows of the deleted identity", table, n)
		}
	}
	for _, k := range keysOf(t, in, id) {
		fence := k == in.prefix+"user:"+id.String()+":sessions" || strings.HasPrefix(k, in.prefix+"profile-hold:")
		if !fence {
			t.Errorf("Valkey still holds %s", k)
			continue
		}
		if k == in.prefix+"user:"+id.String()+":sessions" {
			fields, _ := testValkey.Do(ctx, testValkey.B().Hkeys().Key(k).Build()).AsStrSlice()
			if !slices.Equal(fields, []string{"#generation"}) {
				t.Errorf("the session index keeps %v", fields)
			}
		}
		if ttl, err := testValkey.Do(ctx, testValkey.B().Pttl().Key(k).Build()).AsInt64(); err != nil || ttl <= 0 {
			t.Errorf("%s does not expire: %d, %v", k, ttl, err)
		}
	}
	rows, err := testDB.Pool().Query(ctx, `SELECT event, actor, ip, user_agent FROM audit_events WHERE identity_id = $1 ORDER BY id`, id)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for rows.Next() {
		var event, actor, ip, ua string
		if err := rows.Scan(&event, &actor, &ip, &ua); err != nil {
			t.Fatal(err)
		}
		events = append(events, event)
		if event == "admin_identity_deleted" {
			if actor != "admin:ops" || ip == "" {
				t.Errorf("the deletion event: actor %q ip %q, want the operator's", actor, ip)
			}
		} else if ip != "" || ua != "" {
			t.Errorf("event %s keeps ip %q user agent %q", event, ip, ua)
		}
	}
	rows.Close()
	if len(events) < 3 || events[len(events)-1] != "admin_identity_deleted" {
		t.Errorf("the trail after the deletion: %v", events)
	}
	wantStatus(t, c.do(t, http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
	if r := login(t, in.client(), email, password); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("login after the deletion = %d", r.StatusCode)
	}
	if _, err := testSink.WaitFor(email, "account was deleted", 10*time.Second); err != nil {
		t.Error(err)
	}
	wantStatus(t, in.call(t, http.MethodDelete, "/admin/v1/identities/"+id.String(), nil), http.StatusNotFound)
	wantStatus(t, in.call(t, http.MethodGet, "/admin/v1/identities/"+id.String(), nil), http.StatusNotFound)
}

func rowsIn(t *testing.T, table string, id uuid.UUID) int {
	t.Helper()
	col := "identity_id"
	if table == "identities" {
		col = "id"
	}
	var n int
	if err := testDB.Pool().QueryRow(context.Background(), `SELECT count(*) FROM `+table+` WHERE `+col+` = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func keysOf(t *testing.T, in *instance, id uuid.UUID) []string {
	t.Helper()
	keys, err := testValkey.Do(context.Background(), testValkey.B().Keys().Pattern(in.prefix+"*"+id.String()+"*").Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestAdminCreate: with a password (the policy applies), with a bcrypt
// hash made elsewhere (its password logs in, and authd's Argon2id
// replaces it), with an Argon2id PHC string, or with no password at all.
func TestAdminCreate(t *testing.T) {
	in := newInstance(t, options{})
	hash, err := bcrypt.GenerateFromPassword([]byte("imported passphrase"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	email := newEmail("bcrypt")
	created := in.create(t, map[string]any{"email": email, "password_hash": string(hash), "email_verified": true, "username": "imported" + strings.ToLower(testenv.RandomName(""))})
	if !created.HasPassword || !created.EmailVerified || created.State != "active" {
		t.Errorf("created = %+v", created)
	}
	wantStatus(t, login(t, in.client(), email, "imported passphrase"), http.StatusOK)
	var stored string
	if err := testDB.Pool().QueryRow(context.Background(), `SELECT password_hash FROM identities WHERE id = $1`, created.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "$argon2id$") {
		t.Errorf("the bcrypt hash was not replaced at the first login: %.10s…", stored)
	}
	wantStatus(t, login(t, in.client(), email, "imported passphrase"), http.StatusOK)
	if r := login(t, in.client(), email, "wrong passphrase"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("a wrong password = %d", r.StatusCode)
	}

	phc := in.create(t, map[string]any{"email": newEmail("phc"), "password_hash": stored})
	wantStatus(t, login(t, in.client(), phc.Email, "imported passphrase"), http.StatusOK)
	none := in.create(t, map[string]any{"email": newEmail("nopass")})
	if none.HasPassword {
		t.Error("an identity created without a password has one")
	}
	withPassword := in.create(t, map[string]any{"email": newEmail("pw"), "password": password, "state": "inactive"})
	if r := login(t, in.client(), withPassword.Email, password); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("login of an identity created inactive = %d", r.StatusCode)
	}

	refusals := []struct {
		name  string
		body  map[string]any
		field string
		code  int
	}{
		{"a common password", map[string]any{"email": newEmail("x"), "password": "password1"}, "password", 422},
		{"a hash authd cannot verify", map[string]any{"email": newEmail("x"), "password_hash": "{SSHA}abcdef"}, "password_hash", 422},
		{"a password and a hash", map[string]any{"email": newEmail("x"), "password": password, "password_hash": string(hash)}, "password_hash", 422},
		{"no address", map[string]any{"password": password}, "email", 422},
		{"a taken address", map[string]any{"email": strings.ToUpper(email), "password": password}, "email", 409},
		{"an unknown state", map[string]any{"email": newEmail("x"), "state": "banned"}, "state", 422},
	}
	for _, tt := range refusals {
		r := in.call(t, http.MethodPost, "/admin/v1/identities", tt.body)
		p := r.problem(t)
		if r.StatusCode != tt.code || len(p.Errors) == 0 || p.Errors[0].Field != tt.field {
			t.Errorf("%s: %d %s, want %d naming %s", tt.name, r.StatusCode, r.body, tt.code, tt.field)
		}
	}
	r := in.call(t, http.MethodPost, "/admin/v1/identities", map[string]any{"email": newEmail("x"), "role": "admin"})
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("an unknown field: %d %s", r.StatusCode, r.body)
	}
}

// TestAdminUpdate: traits, the address and its verification.
func TestAdminUpdate(t *testing.T) {
	in := newInstance(t, options{})
	email := newEmail("update")
	id := in.create(t, map[string]any{"email": email, "password": password, "email_verified": true}).ID
	moved := newEmail("updated")
	r := in.call(t, http.MethodPatch, "/admin/v1/identities/"+id.String(), map[string]any{"email": moved, "username": "ann" + strings.ToLower(testenv.RandomName(""))})
	wantStatus(t, r, http.StatusOK)
	var got identityBody
	r.decode(t, &got)
	if got.Email != moved || got.EmailVerified || got.Username == nil {
		t.Errorf("after the change: %+v, want the new address, unverified, and the username", got)
	}
	wantStatus(t, login(t, in.client(), moved, password), http.StatusOK)
	r = in.call(t, http.MethodPatch, "/admin/v1/identities/"+id.String(), map[string]any{"email_verified": true, "username": nil})
	r.decode(t, &got)
	if !got.EmailVerified || got.Username != nil {
		t.Errorf("after verifying and clearing the username: %+v", got)
	}
	wantStatus(t, in.call(t, http.MethodPatch, "/admin/v1/identities/"+uuid.NewString(), map[string]any{"state": "inactive"}), http.StatusNotFound)
	wantStatus(t, in.call(t, http.MethodPatch, "/admin/v1/identities/not-an-id", map[string]any{"state": "inactive"}), http.StatusNotFound)
	r = in.call(t, http.MethodPatch, "/admin/v1/identities/"+id.String(), map[string]any{"email": nil})
	if r.StatusCode != http.StatusUnprocessableEntity || r.problem(t).Errors[0].Field != "email" {
		t.Errorf("clearing the address: %d %s", r.StatusCode, r.body)
	}
}

// TestAdminSessions: an identity's sessions listed (never a token), one
// ended, then all, on every instance.
func TestAdminSessions(t *testing.T) {
	in := newInstance(t, options{})
	email := newEmail("sessions")
	id := in.create(t, map[string]any{"email": email, "password": password}).ID
	var clients []*publicClient
	for range 3 {
		c := in.client()
		wantStatus(t, login(t, c, email, password), http.StatusOK)
		clients = append(clients, c)
	}
	r := in.call(t, http.MethodGet, "/admin/v1/identities/"+id.String()+"/sessions", nil)
	wantStatus(t, r, http.StatusOK)
	var list struct {
		Sessions []struct {
			ID string `json:"id"`
		} `json:"sessions"`
	}
	r.decode(t, &list)
	if len(list.Sessions) != 3 {
		t.Fatalf("%d sessions listed, want 3", len(list.Sessions))
	}
	for _, c := range clients {
		u, _ := url.Parse(in.public.URL)
		for _, ck := range c.hc.Jar.Cookies(u) {
			if strings.Contains(string(r.body), ck.Value) {
				t.Error("the session list shows a token")
			}
		}
	}
	wantStatus(t, in.call(t, http.MethodDelete, "/admin/v1/identities/"+id.String()+"/sessions/"+list.Sessions[0].ID, nil), http.StatusNoContent)
	wantStatus(t, in.call(t, http.MethodDelete, "/admin/v1/identities/"+id.String()+"/sessions/"+list.Sessions[0].ID, nil), http.StatusNotFound)
	live := 0
	for _, c := range clients {
		if c.do(t, http.MethodGet, "/api/v1/auth/me", nil).StatusCode == http.StatusOK {
			live++
		}
	}
	if live != 2 {
		t.Errorf("%d sessions live after ending one, want 2", live)
	}
	r = in.call(t, http.MethodDelete, "/admin/v1/identities/"+id.String()+"/sessions", nil)
	wantStatus(t, r, http.StatusOK)
	var ended struct {
		Ended int `json:"ended"`
	}
	r.decode(t, &ended)
	if ended.Ended != 2 {
		t.Errorf("ended = %d, want 2", ended.Ended)
	}
	for _, c := range clients {
		wantStatus(t, c.do(t, http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
	}
	wantStatus(t, in.call(t, http.MethodGet, "/admin/v1/identities/"+uuid.NewString()+"/sessions", nil), http.StatusNotFound)
}

// TestAdminRecoveryLink: returned to the operator, it sets a password;
// mailed, it reaches the owner; either voids the links before it.
func TestAdminRecoveryLink(t *testing.T) {
	in := newInstance(t, options{})
	email := newEmail("recover")
	id := in.create(t, map[string]any{"email": email}).ID
	r := in.call(t, http.MethodPost, "/admin/v1/identities/"+id.String()+"/recovery-link", map[string]any{})
	wantStatus(t, r, http.StatusCreated)
	var link struct {
		Link      string    `json:"link"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	r.decode(t, &link)
	if !strings.HasPrefix(link.Link, "https://app.example.test/recovery?token=") || time.Until(link.ExpiresAt) <= 0 {
		t.Fatalf("link = %+v", link)
	}
	first, err := testenv.LinkToken(link.Link, "/recovery")
	if err != nil {
		t.Fatal(err)
	}
	r = in.call(t, http.MethodPost, "/admin/v1/identities/"+id.String()+"/recovery-link", map[string]any{"send_mail": true})
	wantStatus(t, r, http.StatusAccepted)
	m, err := testSink.WaitFor(email, "Reset", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	mailed, err := testenv.LinkToken(m.Text, "/recovery")
	if err != nil {
		t.Fatal(err)
	}
	c := in.client()
	if r := c.do(t, http.MethodPost, "/api/v1/auth/recovery/complete", map[string]string{"token": first, "password": password}); r.StatusCode != http.StatusGone {
		t.Errorf("the first link after a second one: %d, want 410", r.StatusCode)
	}
	wantStatus(t, c.do(t, http.MethodPost, "/api/v1/auth/recovery/complete", map[string]string{"token": mailed, "password": password}), http.StatusNoContent)
	wantStatus(t, login(t, in.client(), email, password), http.StatusOK)

	wantStatus(t, in.call(t, http.MethodPatch, "/admin/v1/identities/"+id.String(), map[string]any{"state": "inactive"}), http.StatusOK)
	r = in.call(t, http.MethodPost, "/admin/v1/identities/"+id.String()+"/recovery-link", nil)
	if r.StatusCode != http.StatusConflict || r.problem(t).Code != "identity_inactive" {
		t.Errorf("a link for an inactive identity: %d %s", r.StatusCode, r.body)
	}
}

// TestAdminRemovesSecondFactors: the help-desk case. The next login needs
// the password alone, and the owner is told.
func TestAdminRemovesSecondFactors(t *testing.T) {
	in := newInstance(t, options{})
	email := newEmail("factors")
	id := in.create(t, map[string]any{"email": email, "password": password}).ID
	ctx := context.Background()
	factors := postgres.NewFactorStore(testDB)
	if err := factors.PutPendingTOTP(ctx, id, []byte("sealed"), time.Now()); err != nil {
		t.Fatal(err)
	}
	if ok, err := factors.UseTOTPStep(ctx, id, 1, true, time.Now()); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := factors.ReplaceRecoveryCodes(ctx, id, [][]byte{make([]byte, 32), append(make([]byte, 31), 1)}, time.Now()); err != nil {
		t.Fatal(err)
	}
	var second struct {
		SecondFactorRequired bool `json:"second_factor_required"`
	}
	login(t, in.client(), email, password).decode(t, &second)
	if !second.SecondFactorRequired {
		t.Fatal("setup: the login does not owe a second step")
	}
	r := in.call(t, http.MethodDelete, "/admin/v1/identities/"+id.String()+"/second-factors", nil)
	wantStatus(t, r, http.StatusOK)
	var removed struct {
		Removed struct {
			TOTP              bool `json:"totp"`
			RecoveryCodesLeft int  `json:"recovery_codes_left"`
		} `json:"removed"`
	}
	r.decode(t, &removed)
	if !removed.Removed.TOTP || removed.Removed.RecoveryCodesLeft != 2 {
		t.Errorf("removed = %+v", removed)
	}
	c := in.client()
	r = login(t, c, email, password)
	wantStatus(t, r, http.StatusOK)
	second.SecondFactorRequired = false
	r.decode(t, &second)
	if second.SecondFactorRequired {
		t.Error("the login still owes a second step")
	}
	wantStatus(t, c.do(t, http.MethodGet, "/api/v1/auth/me", nil), http.StatusOK)
	if _, err := testSink.WaitFor(email, "second factors", 10*time.Second); err != nil {
		t.Error(err)
	}
}

// TestAdminAuditQuery: by identity, event, IP and time, newest first, in
// pages that neither repeat nor skip.
func TestAdminAuditQuery(t *testing.T) {
	in := newInstance(t, options{})
	email := newEmail("audit")
	start := time.Now().Add(-time.Second)
	id := in.create(t, map[string]any{"email": email, "password": password}).ID
	for range 5 {
		wantStatus(t, login(t, in.client(), email, "wrong passphrase"), http.StatusUnauthorized)
	}
	wantStatus(t, login(t, in.client(), email, password), http.StatusOK)
	type eventPage struct {
		Events []struct {
			ID    int64  `json:"id"`
			Event string `json:"event"`
			IP    string `json:"ip"`
		} `json:"events"`
		NextCursor *string `json:"next_cursor"`
	}
	query := func(q url.Values) eventPage {
		t.Helper()
		r := in.call(t, http.MethodGet, "/admin/v1/audit-events?"+q.Encode(), nil)
		wantStatus(t, r, http.StatusOK)
		var p eventPage
		r.decode(t, &p)
		return p
	}
	all := query(url.Values{"identity_id": {id.String()}})
	if len(all.Events) != 7 || all.Events[0].Event != "login_succeeded" || all.Events[6].Event != "admin_identity_created" || all.NextCursor != nil {
		t.Fatalf("the identity's events: %+v", all)
	}
	failed := query(url.Values{"identity_id": {id.String()}, "event": {"login_failed"}, "ip": {all.Events[1].IP}})
	if len(failed.Events) != 5 {
		t.Errorf("by event and IP: %d events, want 5", len(failed.Events))
	}
	if got := query(url.Values{"identity_id": {id.String()}, "from": {start.Add(-2 * time.Minute).Format(time.RFC3339Nano)}, "until": {start.Format(time.RFC3339Nano)}}); len(got.Events) != 0 {
		t.Errorf("a time range before the events gave %d events", len(got.Events))
	}
	// Every query about the identity is an event about it too, newer than
	// what it read: a range around the events has the 7 and the queries.
	around := query(url.Values{"identity_id": {id.String()}, "from": {start.Format(time.RFC3339Nano)}, "until": {time.Now().Add(time.Minute).Format(time.RFC3339Nano)}})
	if n := len(around.Events); n < 7 || around.Events[n-7].ID != all.Events[0].ID {
		t.Errorf("a time range around the events gave %+v", around.Events)
	}
	snapshot := query(url.Values{"identity_id": {id.String()}, "page_size": {"500"}})
	var ids []int64
	cursor := ""
	for {
		q := url.Values{"identity_id": {id.String()}, "page_size": {"3"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		p := query(q)
		for _, e := range p.Events {
			ids = append(ids, e.ID)
		}
		if p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
	}
	// The pages are the events as the first page found them: the snapshot
	// and the snapshot's own query event, newest.
	var want []int64
	for _, e := range snapshot.Events {
		want = append(want, e.ID)
	}
	if len(ids) != len(want)+1 || !slices.Equal(ids[1:], want) || ids[0] <= want[0] {
		t.Errorf("pages gave %v, want a newer event then %v", ids, want)
	}
	r := in.call(t, http.MethodGet, "/admin/v1/audit-events?identity_id=nope&until=soon", nil)
	if p := r.problem(t); r.StatusCode != http.StatusUnprocessableEntity || len(p.Errors) != 2 {
		t.Errorf("bad filters: %d %s, want 422 naming both", r.StatusCode, r.body)
	}
}
