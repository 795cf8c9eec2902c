package argon2id

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// cheapParams keep the suite fast; only TestDefaultParams pays for the
// production settings.
func cheapParams() Params {
	return Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

func newHasher(t testing.TB, p Params) *Hasher {
	t.Helper()
	h, err := New(p)
	if err != nil {
		t.Fatalf("New(%+v) error = %v, want nil", p, err)
	}
	return h
}

func mustHash(t testing.TB, h *Hasher, password string) string {
	t.Helper()
	encoded, err := h.Hash(context.Background(), password)
	if err != nil {
		t.Fatalf("Hash() error = %v, want nil", err)
	}
	return encoded
}

// kratosArgon2 formats a hash the way Ory Kratos does, independently of
// PHC.String, so that the import path is not only tested against itself.
func kratosArgon2(password string, salt []byte, m, t uint32, p uint8, keyLen uint32) string {
	key := argon2.IDKey([]byte(password), salt, t, m, p, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, m, t, p, b64(salt), b64(key))
}

func TestDefaultParams(t *testing.T) {
	got := DefaultParams()
	want := Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	if got != want {
		t.Fatalf("DefaultParams() = %+v, want %+v", got, want)
	}
	h := newHasher(t, got)
	encoded := mustHash(t, h, "correct horse battery staple")
	if prefix := "$argon2id$v=19$m=19456,t=2,p=1$"; !strings.HasPrefix(encoded, prefix) {
		t.Errorf("Hash() = %q, want prefix %q", encoded, prefix)
	}
	match, rehash, err := h.Verify(context.Background(), "correct horse battery staple", encoded)
	if !match || rehash || err != nil {
		t.Errorf("Verify() = %v, %v, %v, want true, false, nil", match, rehash, err)
	}
}

func TestParamsValidate(t *testing.T) {
	valid := cheapParams()
	with := func(f func(*Params)) Params {
		p := valid
		f(&p)
		return p
	}
	tests := []struct {
		name    string
		params  Params
		wantErr bool
	}{
		{"cheap", valid, false},
		{"default", DefaultParams(), false},
		{"minimum memory for lanes", with(func(p *Params) { p.Memory, p.Parallelism = 32, 4 }), false},
		{"maximum memory", with(func(p *Params) { p.Memory = 4 * 1024 * 1024 }), false},
		{"maximum lengths", with(func(p *Params) { p.SaltLength, p.KeyLength = 1024, 1024 }), false},
		{"zero value", Params{}, true},
		{"zero memory", with(func(p *Params) { p.Memory = 0 }), true},
		{"memory below 8 per lane", with(func(p *Params) { p.Memory, p.Parallelism = 31, 4 }), true},
		{"memory above 4 GiB", with(func(p *Params) { p.Memory = 4*1024*1024 + 1 }), true},
		{"zero iterations", with(func(p *Params) { p.Iterations = 0 }), true},
		{"too many iterations", with(func(p *Params) { p.Iterations = 1<<16 + 1 }), true},
		{"zero parallelism", with(func(p *Params) { p.Parallelism = 0 }), true},
		{"short salt", with(func(p *Params) { p.SaltLength = 15 }), true},
		{"long salt", with(func(p *Params) { p.SaltLength = 1025 }), true},
		{"short key", with(func(p *Params) { p.KeyLength = 15 }), true},
		{"long key", with(func(p *Params) { p.KeyLength = 1025 }), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.params.Validate()
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Errorf("Validate(%+v) error = %v, want error: %v", tt.params, err, tt.wantErr)
			}
			h, err := New(tt.params)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Errorf("New(%+v) error = %v, want error: %v", tt.params, err, tt.wantErr)
			}
			if err == nil && h.Params() != tt.params {
				t.Errorf("Params() = %+v, want %+v", h.Params(), tt.params)
			}
		})
	}
}

func TestHashVerifyRoundTrip(t *testing.T) {
	h := newHasher(t, cheapParams())
	tests := []struct {
		name     string
		password string
	}{
		{"ascii", "correct horse battery staple"},
		{"empty", ""},
		{"unicode", "pässwörd-日本語-🔑"},
		{"128 characters", strings.Repeat("aB3$", 32)},
		{"128 multibyte characters", strings.Repeat("é", 128)},
		{"embedded NUL", "before\x00after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encoded := mustHash(t, h, tt.password)
			ctx := context.Background()
			match, rehash, err := h.Verify(ctx, tt.password, encoded)
			if !match || rehash || err != nil {
				t.Errorf("Verify(right password) = %v, %v, %v, want true, false, nil", match, rehash, err)
			}
			for _, wrong := range []string{tt.password + "x", "x" + tt.password, strings.ToUpper(tt.password) + "!"} {
				match, rehash, err := h.Verify(ctx, wrong, encoded)
				if match || rehash || err != nil {
					t.Errorf("Verify(%q) = %v, %v, %v, want false, false, nil", wrong, match, rehash, err)
				}
			}
		})
	}
}

func TestHashEncodesParams(t *testing.T) {
	p := Params{Memory: 128, Iterations: 3, Parallelism: 2, SaltLength: 24, KeyLength: 48}
	h := newHasher(t, p)
	encoded := mustHash(t, h, "password")
	if want := "$argon2id$v=19$m=128,t=3,p=2$"; !strings.HasPrefix(encoded, want) {
		t.Errorf("Hash() = %q, want prefix %q", encoded, want)
	}
	phc, err := ParsePHC(encoded)
	if err != nil {
		t.Fatalf("ParsePHC(Hash()) error = %v, want nil", err)
	}
	if phc.Params != p {
		t.Errorf("ParsePHC(Hash()).Params = %+v, want %+v", phc.Params, p)
	}
}

func TestHashUsesDistinctSalts(t *testing.T) {
	h := newHasher(t, cheapParams())
	const n = 50
	salts := make(map[string]bool, n)
	for range n {
		phc, err := ParsePHC(mustHash(t, h, "same password"))
		if err != nil {
			t.Fatalf("ParsePHC(Hash()) error = %v, want nil", err)
		}
		if salts[string(phc.Salt)] {
			t.Fatalf("salt %x repeated after %d hashes", phc.Salt, len(salts))
		}
		salts[string(phc.Salt)] = true
	}
}

// The reference implementation's test vectors (phc-winner-argon2, test.c)
// pin our output to the standard, not merely to x/crypto's behaviour.
func TestVerifyReferenceVectors(t *testing.T) {
	h := newHasher(t, cheapParams())
	for _, encoded := range []string{
		"$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
		"$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc",
	} {
		match, rehash, err := h.Verify(context.Background(), "password", encoded)
		if !match || !rehash || err != nil {
			t.Errorf("Verify(%q) = %v, %v, %v, want true, true, nil", encoded, match, rehash, err)
		}
		match, rehash, err = h.Verify(context.Background(), "differentpassword", encoded)
		if match || rehash || err != nil {
			t.Errorf("Verify(wrong, %q) = %v, %v, %v, want false, false, nil", encoded, match, rehash, err)
		}
	}
}

func TestVerifyKratosArgon2(t *testing.T) {
	h := newHasher(t, cheapParams())
	salt16 := []byte("0123456789abcdef")
	tests := []struct {
		name    string
		encoded string
		rehash  bool
	}{
		// Kratos defaults to t=1 and p=2*CPUs with far more memory; the
		// shape is what matters here, not the cost.
		{"kratos shape", kratosArgon2("hunter2", salt16, 256, 1, 2, 32), true},
		{"more lanes", kratosArgon2("hunter2", salt16, 128, 1, 16, 32), true},
		{"short key", kratosArgon2("hunter2", salt16, 64, 1, 1, 16), true},
		{"long key", kratosArgon2("hunter2", salt16, 64, 1, 1, 64), true},
		{"8-byte salt", kratosArgon2("hunter2", []byte("somesalt"), 64, 1, 1, 32), true},
		{"long salt", kratosArgon2("hunter2", []byte(strings.Repeat("s", 32)), 64, 1, 1, 32), true},
		{"same params as ours", kratosArgon2("hunter2", salt16, 64, 1, 1, 32), false},
		// Kratos' other Argon2 variant: read, and always replaced.
		{"argon2i with our params", argon2iPHC("hunter2", salt16, 64, 1, 1, 32), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			match, rehash, err := h.Verify(context.Background(), "hunter2", tt.encoded)
			if !match || rehash != tt.rehash || err != nil {
				t.Errorf("Verify(%q) = %v, %v, %v, want true, %v, nil", tt.encoded, match, rehash, err, tt.rehash)
			}
			if got := h.NeedsRehash(tt.encoded); got != tt.rehash {
				t.Errorf("NeedsRehash(%q) = %v, want %v", tt.encoded, got, tt.rehash)
			}
			match, rehash, err = h.Verify(context.Background(), "hunter3", tt.encoded)
			if match || rehash || err != nil {
				t.Errorf("Verify(wrong, %q) = %v, %v, %v, want false, false, nil", tt.encoded, match, rehash, err)
			}
		})
	}
}

func TestVerifyBcrypt(t *testing.T) {
	h := newHasher(t, cheapParams())
	const password = "kratos-legacy-pässword"
	generated, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("bcrypt.GenerateFromPassword() error = %v", err)
	}
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		// The variants differ only for passwords bcrypt no longer accepts,
		// so relabelling one hash yields a valid hash of each kind.
		encoded := prefix + string(generated[4:])
		t.Run(prefix, func(t *testing.T) {
			match, rehash, err := h.Verify(context.Background(), password, encoded)
			if !match || !rehash || err != nil {
				t.Errorf("Verify(right password) = %v, %v, %v, want true, true, nil", match, rehash, err)
			}
			match, rehash, err = h.Verify(context.Background(), password+"!", encoded)
			if match || rehash || err != nil {
				t.Errorf("Verify(wrong password) = %v, %v, %v, want false, false, nil", match, rehash, err)
			}
			if !h.NeedsRehash(encoded) {
				t.Errorf("NeedsRehash(%q) = false, want true", encoded)
			}
		})
	}
}

func TestVerifyBcryptLongPassword(t *testing.T) {
	h := newHasher(t, cheapParams())
	exactly72 := strings.Repeat("0123456789ab", 6)
	encoded, err := bcrypt.GenerateFromPassword([]byte(exactly72), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("bcrypt.GenerateFromPassword() error = %v", err)
	}
	tests := []struct {
		name     string
		password string
		want     bool
	}{
		{"72 bytes", exactly72, true},
		// bcrypt would see the same 72 bytes; the longer password must
		// still not match.
		{"73 bytes, same prefix", exactly72 + "x", false},
		{"200 bytes, same prefix", exactly72 + strings.Repeat("y", 128), false},
		{"71 bytes", exactly72[:71], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			match, rehash, err := h.Verify(context.Background(), tt.password, string(encoded))
			if match != tt.want || rehash != tt.want || err != nil {
				t.Errorf("Verify() = %v, %v, %v, want %v, %v, nil", match, rehash, err, tt.want, tt.want)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	h := newHasher(t, cheapParams())
	valid := mustHash(t, h, "password")
	bcryptHash, err := bcrypt.GenerateFromPassword([]byte("password"), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("bcrypt.GenerateFromPassword() error = %v", err)
	}
	b := string(bcryptHash)
	tests := []struct {
		name    string
		encoded string
	}{
		{"empty", ""},
		{"plain text", "password"},
		{"argon2id without key", valid[:strings.LastIndexByte(valid, '$')]},
		{"argon2d", strings.Replace(valid, "argon2id", "argon2d", 1)},
		{"bcrypt too short", b[:59]},
		{"bcrypt too long", b + "a"},
		{"bcrypt prefix only", "$2a$"},
		{"bcrypt cost 31", b[:4] + "31" + b[6:]},
		{"bcrypt cost 17", b[:4] + "17" + b[6:]},
		{"bcrypt cost 03", b[:4] + "03" + b[6:]},
		{"bcrypt signed cost", b[:4] + "+5" + b[6:]},
		{"bcrypt missing separator", b[:6] + "x" + b[7:]},
		{"bcrypt bad character", b[:20] + "!" + b[21:]},
		{"bcrypt unknown variant", "$2x$" + b[4:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			match, rehash, err := h.Verify(context.Background(), "password", tt.encoded)
			if !errors.Is(err, ErrMalformedHash) {
				t.Errorf("Verify(%q) error = %v, want ErrMalformedHash", tt.encoded, err)
			}
			if match || rehash {
				t.Errorf("Verify(%q) = %v, %v, want false, false", tt.encoded, match, rehash)
			}
			if !h.NeedsRehash(tt.encoded) {
				t.Errorf("NeedsRehash(%q) = false, want true", tt.encoded)
			}
		})
	}
}

func TestCanceledContext(t *testing.T) {
	h := newHasher(t, cheapParams())
	valid := mustHash(t, h, "password")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel := context.WithTimeout(context.Background(), -1)
	defer cancel()

	for _, tc := range []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"canceled", canceled, context.Canceled},
		{"deadline exceeded", expired, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := h.Hash(tc.ctx, "password")
			if got != "" || !errors.Is(err, tc.want) {
				t.Errorf("Hash() = %q, %v, want \"\", %v", got, err, tc.want)
			}
			// A malformed hash would give ErrMalformedHash if it were
			// looked at, so this shows the context is checked first.
			for _, encoded := range []string{valid, "not a hash"} {
				match, rehash, err := h.Verify(tc.ctx, "password", encoded)
				if match || rehash || !errors.Is(err, tc.want) {
					t.Errorf("Verify(%q) = %v, %v, %v, want false, false, %v", encoded, match, rehash, err, tc.want)
				}
			}
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	base := cheapParams()
	h := newHasher(t, base)
	with := func(f func(*Params)) Params {
		p := base
		f(&p)
		return p
	}
	bcryptHash, err := bcrypt.GenerateFromPassword([]byte("password"), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("bcrypt.GenerateFromPassword() error = %v", err)
	}
	tests := []struct {
		name    string
		encoded string
		want    bool
	}{
		{"same params", mustHash(t, newHasher(t, base), "password"), false},
		{"different memory", mustHash(t, newHasher(t, with(func(p *Params) { p.Memory = 128 })), "password"), true},
		{"different iterations", mustHash(t, newHasher(t, with(func(p *Params) { p.Iterations = 2 })), "password"), true},
		{"different parallelism", mustHash(t, newHasher(t, with(func(p *Params) { p.Parallelism = 2 })), "password"), true},
		{"different key length", mustHash(t, newHasher(t, with(func(p *Params) { p.KeyLength = 16 })), "password"), true},
		{"different salt length", mustHash(t, newHasher(t, with(func(p *Params) { p.SaltLength = 32 })), "password"), true},
		{"bcrypt", string(bcryptHash), true},
		{"malformed", "$argon2id$v=19$m=64,t=1,p=1$", true},
		{"empty", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.NeedsRehash(tt.encoded); got != tt.want {
				t.Errorf("NeedsRehash(%q) = %v, want %v", tt.encoded, got, tt.want)
			}
			// Verify must agree whenever it gets a match.
			match, rehash, _ := h.Verify(context.Background(), "password", tt.encoded)
			if match && rehash != tt.want {
				t.Errorf("Verify(%q) rehash = %v, want %v", tt.encoded, rehash, tt.want)
			}
		})
	}
}

func TestDummyHash(t *testing.T) {
	p := cheapParams()
	h := newHasher(t, p)

	// Callers hit DummyHash concurrently on the login path.
	const n = 8
	got := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i] = h.DummyHash() })
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if got[i] != got[0] {
			t.Fatalf("DummyHash() = %q then %q, want the same value", got[0], got[i])
		}
	}
	dummy := got[0]

	phc, err := ParsePHC(dummy)
	if err != nil {
		t.Fatalf("ParsePHC(DummyHash()) error = %v, want nil", err)
	}
	if phc.Params != p {
		t.Errorf("ParsePHC(DummyHash()).Params = %+v, want %+v", phc.Params, p)
	}
	if h.NeedsRehash(dummy) {
		t.Errorf("NeedsRehash(DummyHash()) = true, want false")
	}
	for _, password := range []string{"", "password", dummy} {
		match, rehash, err := h.Verify(context.Background(), password, dummy)
		if match || rehash || err != nil {
			t.Errorf("Verify(%q, DummyHash()) = %v, %v, %v, want false, false, nil", password, match, rehash, err)
		}
	}
	if other := newHasher(t, p).DummyHash(); other == dummy {
		t.Errorf("two Hashers share DummyHash() %q, want independent random secrets", dummy)
	}
}

// argon2iPHC is an Argon2i hash as Kratos writes one.
func argon2iPHC(password string, salt []byte, memory, iterations uint32, lanes uint8, keyLen uint32) string {
	key := argon2.Key([]byte(password), salt, iterations, memory, lanes, keyLen)
	return fmt.Sprintf("$argon2i$v=19$m=%d,t=%d,p=%d$%s$%s", memory, iterations, lanes,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}
