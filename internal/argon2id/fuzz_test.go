package argon2id

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func FuzzParsePHC(f *testing.F) {
	for _, s := range []string{
		referenceHash,
		"$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc",
		"$argon2id$v=19$m=19456,t=2,p=1$AAcOFRwjKjE4P0ZNVFtiaQ$AAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tk",
		"$argon2id$v=19$m=4194304,t=65536,p=255$c29tZXNhbHQ$c29tZXNhbHQ",
		"",
		"$",
		"$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$c29tZXNhbHQ",
		"$argon2id$v=18$m=256,t=2,p=1$c29tZXNhbHQ$c29tZXNhbHQ",
		"$argon2id$v=19$t=2,m=256,p=1$c29tZXNhbHQ$c29tZXNhbHQ",
		"$argon2id$v=19$m=999999999,t=2,p=1$c29tZXNhbHQ$c29tZXNhbHQ",
		"$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ=$c29tZXNhbHQ",
		"$argon2id$v=19$m=256,t=2,p=1$c29tZXNh\nbHQ$c29tZXNhbHQ",
		"$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$c29tZXNhbHQ$",
		"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		phc, err := ParsePHC(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("ParsePHC(%q) error = %v, want it to wrap ErrMalformedHash", s, err)
			}
			return
		}
		again, err := ParsePHC(phc.String())
		if err != nil {
			t.Fatalf("ParsePHC(%q) error = %v after ParsePHC(%q) succeeded", phc.String(), err, s)
		}
		if !equalPHC(again, phc) {
			t.Fatalf("ParsePHC(String()) = %+v, want %+v", again, phc)
		}
		// Parsing is strict enough that every accepted hash has exactly
		// one spelling.
		if got := phc.String(); got != s {
			t.Fatalf("String() = %q, want the parsed input %q", got, s)
		}
	})
}

func FuzzVerify(f *testing.F) {
	h := newHasher(f, cheapParams())
	ours := mustHash(f, h, "password")
	legacy, err := bcrypt.GenerateFromPassword([]byte("password"), bcrypt.MinCost)
	if err != nil {
		f.Fatalf("bcrypt.GenerateFromPassword() error = %v", err)
	}
	for _, seed := range []struct{ password, encoded string }{
		{"password", ours},
		{"wrong", ours},
		{"password", h.DummyHash()},
		{"password", referenceHash},
		{"password", string(legacy)},
		{"password", "$2y$" + string(legacy[4:])},
		{"password", "$2a$31$" + string(legacy[7:])},
		{"password", ""},
		{"", "$argon2id$v=19$m=64,t=1,p=1$$"},
		{"pässwörd", "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$c29tZXNhbHQ"},
	} {
		f.Add(seed.password, seed.encoded)
	}
	f.Fuzz(func(t *testing.T, password, encoded string) {
		// Valid but costly parameters are legitimate input; they would
		// only slow the fuzzer down without exercising different code.
		if phc, err := ParsePHC(encoded); err == nil && uint64(phc.Params.Memory)*uint64(phc.Params.Iterations) > 1<<14 {
			t.Skip("argon2id parameters too expensive to fuzz")
		}
		if cost, err := bcryptCost(encoded); err == nil && cost > bcrypt.MinCost+2 {
			t.Skip("bcrypt cost too expensive to fuzz")
		}
		match, rehash, err := h.Verify(context.Background(), password, encoded)
		if err != nil {
			if match || rehash {
				t.Fatalf("Verify(%q, %q) = %v, %v, %v, want false, false with an error", password, encoded, match, rehash, err)
			}
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("Verify(%q, %q) error = %v, want it to wrap ErrMalformedHash", password, encoded, err)
			}
			return
		}
		if rehash && !match {
			t.Fatalf("Verify(%q, %q) = false, true, nil, want rehash only with a match", password, encoded)
		}
		if match && rehash != h.NeedsRehash(encoded) {
			t.Fatalf("Verify(%q, %q) rehash = %v, NeedsRehash = %v, want them equal", password, encoded, rehash, !rehash)
		}
	})
}
