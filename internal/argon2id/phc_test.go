package argon2id

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func b64(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }

func equalPHC(a, b PHC) bool {
	return a.Params == b.Params && a.Version == b.Version &&
		bytes.Equal(a.Salt, b.Salt) && bytes.Equal(a.Key, b.Key)
}

const referenceHash = "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"

func TestParsePHCReference(t *testing.T) {
	got, err := ParsePHC(referenceHash)
	if err != nil {
		t.Fatalf("ParsePHC() error = %v, want nil", err)
	}
	wantParams := Params{Memory: 256, Iterations: 2, Parallelism: 1, SaltLength: 8, KeyLength: 32}
	if got.Params != wantParams {
		t.Errorf("Params = %+v, want %+v", got.Params, wantParams)
	}
	if got.Version != 19 {
		t.Errorf("Version = %d, want 19", got.Version)
	}
	if string(got.Salt) != "somesalt" {
		t.Errorf("Salt = %q, want %q", got.Salt, "somesalt")
	}
	if s := got.String(); s != referenceHash {
		t.Errorf("String() = %q, want %q", s, referenceHash)
	}
}

func TestPHCRoundTrip(t *testing.T) {
	seq := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i * 7)
		}
		return b
	}
	tests := []struct {
		name string
		phc  PHC
		want string
	}{
		{
			name: "default params",
			phc:  PHC{Params: Params{Memory: 19456, Iterations: 2, Parallelism: 1}, Version: 19, Salt: seq(16), Key: seq(32)},
			want: "$argon2id$v=19$m=19456,t=2,p=1$AAcOFRwjKjE4P0ZNVFtiaQ$AAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tk",
		},
		{
			name: "kratos-like",
			phc:  PHC{Params: Params{Memory: 131072, Iterations: 1, Parallelism: 16}, Version: 19, Salt: seq(16), Key: seq(32)},
		},
		{
			name: "minimum lengths",
			phc:  PHC{Params: Params{Memory: 8, Iterations: 1, Parallelism: 1}, Version: 19, Salt: seq(8), Key: seq(8)},
		},
		{
			name: "maximum bounds",
			phc:  PHC{Params: Params{Memory: 4 * 1024 * 1024, Iterations: 1 << 16, Parallelism: 255}, Version: 19, Salt: seq(1024), Key: seq(1024)},
		},
		{
			name: "odd lengths",
			phc:  PHC{Params: Params{Memory: 1024, Iterations: 3, Parallelism: 4}, Version: 19, Salt: seq(17), Key: seq(33)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.phc.String()
			if tt.want != "" && s != tt.want {
				t.Errorf("String() = %q, want %q", s, tt.want)
			}
			got, err := ParsePHC(s)
			if err != nil {
				t.Fatalf("ParsePHC(%q) error = %v, want nil", s, err)
			}
			want := tt.phc
			want.Params.SaltLength = uint32(len(want.Salt))
			want.Params.KeyLength = uint32(len(want.Key))
			if !equalPHC(got, want) {
				t.Errorf("ParsePHC(String()) = %+v, want %+v", got, want)
			}
			if again := got.String(); again != s {
				t.Errorf("String() after parse = %q, want %q", again, s)
			}
		})
	}
}

func TestParsePHCMalformed(t *testing.T) {
	salt := b64([]byte("0123456789abcdef"))
	key := b64([]byte("0123456789abcdef0123456789abcdef"))
	valid := "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key
	if _, err := ParsePHC(valid); err != nil {
		t.Fatalf("ParsePHC(%q) error = %v, want nil", valid, err)
	}
	withParams := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	withSalt := func(s string) string { return "$argon2id$v=19$m=64,t=1,p=1$" + s + "$" + key }
	withKey := func(k string) string { return "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + k }

	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"only dollar", "$"},
		{"plain text", "password"},
		{"argon2d", "$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"upper case algorithm", "$ARGON2ID$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"version 18", "$argon2id$v=18$m=64,t=1,p=1$" + salt + "$" + key},
		{"version 16", "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{"version leading zero", "$argon2id$v=019$m=64,t=1,p=1$" + salt + "$" + key},
		{"version empty", "$argon2id$v=$m=64,t=1,p=1$" + salt + "$" + key},
		{"missing version", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{"missing leading dollar", "argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"missing params", "$argon2id$v=19$" + salt + "$" + key},
		{"missing key", "$argon2id$v=19$m=64,t=1,p=1$" + salt},
		{"missing salt and key", "$argon2id$v=19$m=64,t=1,p=1"},
		{"empty salt", withSalt("")},
		{"empty key", withKey("")},
		{"extra field", valid + "$" + key},
		{"trailing dollar", valid + "$"},
		{"trailing newline", valid + "\n"},
		{"trailing space", valid + " "},
		{"missing p", withParams("m=64,t=1")},
		{"empty params", withParams("")},
		{"extra param", withParams("m=64,t=1,p=1,k=1")},
		{"data param", withParams("m=64,t=1,p=1,data=YWJj")},
		{"trailing comma", withParams("m=64,t=1,p=1,")},
		{"space after comma", withParams("m=64, t=1,p=1")},
		{"duplicate param", withParams("m=64,m=64,t=1")},
		{"upper case key", withParams("M=64,t=1,p=1")},
		{"params out of order", withParams("t=1,m=64,p=1")},
		{"params reversed", withParams("p=1,t=1,m=64")},
		{"non-numeric memory", withParams("m=abc,t=1,p=1")},
		{"non-numeric iterations", withParams("m=64,t=x,p=1")},
		{"non-numeric parallelism", withParams("m=64,t=1,p=1a")},
		{"empty memory", withParams("m=,t=1,p=1")},
		{"hex memory", withParams("m=0x40,t=1,p=1")},
		{"exponent memory", withParams("m=1e3,t=1,p=1")},
		{"signed memory", withParams("m=+64,t=1,p=1")},
		{"negative memory", withParams("m=-64,t=1,p=1")},
		{"leading zero memory", withParams("m=064,t=1,p=1")},
		{"zero memory", withParams("m=0,t=1,p=1")},
		{"zero iterations", withParams("m=64,t=0,p=1")},
		{"zero parallelism", withParams("m=64,t=1,p=0")},
		{"memory below 8 per lane", withParams("m=15,t=1,p=2")},
		{"parallelism 256", withParams("m=4096,t=1,p=256")},
		{"too many iterations", withParams("m=64,t=65537,p=1")},
		{"memory just over 4 GiB", withParams("m=4194305,t=1,p=1")},
		{"absurd memory", withParams("m=999999999,t=1,p=1")},
		{"overflowing memory", withParams("m=99999999999999999999,t=1,p=1")},
		{"bad base64 salt", withSalt("c29tZXNhbHQ!")},
		{"bad base64 key", withKey("nf65EOgLrQMR*uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4")},
		{"padded salt", withSalt("c29tZXNhbHQ=")},
		{"padded key", withKey(base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0")))},
		{"url-safe base64", withSalt("-_-_-_-_-_-_-_-_-_-_-w")},
		{"non-canonical trailing bits", withSalt("c29tZXNhbHR")},
		{"newline in salt", withSalt("c29tZXNh\nbHQ")},
		{"carriage return in key", withKey(key[:10] + "\r" + key[10:])},
		{"salt too short", withSalt(b64([]byte("1234567")))},
		{"key too short", withKey(b64([]byte("1234567")))},
		{"salt too long", withSalt(b64(make([]byte, 1025)))},
		{"key too long", withKey(b64(make([]byte, 1025)))},
		{"huge input", withKey(strings.Repeat("A", 1<<20))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePHC(tt.in)
			if !errors.Is(err, ErrMalformedHash) {
				t.Errorf("ParsePHC(%q) = %+v, %v, want error wrapping ErrMalformedHash", tt.in, got, err)
			}
		})
	}
}

// Errors end up in logs, so they must not echo the hash they reject.
func TestParsePHCErrorOmitsInput(t *testing.T) {
	const secret = "SuperSecretPassword123"
	for _, in := range []string{
		secret,
		"$" + secret + "$v=19$m=64,t=1,p=1$c29tZXNhbHQ$c29tZXNhbHQ",
		"$argon2id$v=19$m=64,t=1,p=1$" + secret + "!$c29tZXNhbHQ",
	} {
		_, err := ParsePHC(in)
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("ParsePHC(%q) error = %v, want an error not containing the input", in, err)
		}
	}
}
