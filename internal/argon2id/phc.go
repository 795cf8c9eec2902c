package argon2id

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PHC is a parsed Argon2 hash in the PHC string format,
// $argon2id$v=19$m=<KiB>,t=<iterations>,p=<lanes>$<salt>$<key>. authd
// writes Argon2id only; Argon2i is read for hashes imported from Kratos.
type PHC struct {
	// Variant is "argon2id" or "argon2i".
	Variant string
	// Params.SaltLength and Params.KeyLength are the decoded lengths of
	// Salt and Key, so that Params can be compared with a Hasher's.
	Params  Params
	Version int
	Salt    []byte
	Key     []byte
}

// maxPHCLength is longer than any string ParsePHC can accept; checking it
// first keeps absurd inputs from being split and decoded at all.
var maxPHCLength = len("$argon2id$v=19$m=4294967295,t=4294967295,p=255$$") +
	2*base64.RawStdEncoding.EncodedLen(maxBytesLength)

// ParsePHC parses an Argon2id (or Argon2i) PHC string strictly. Stored hashes are data we
// will run expensive code on, so everything not exactly as we (or Kratos)
// write it is rejected: another algorithm or version, parameters missing,
// reordered, with leading zeros or out of bounds, and salts or keys that
// are not canonical unpadded standard base64. Salts and keys of 8 bytes are
// accepted for imported hashes, although we write 16 or more. Every error
// wraps ErrMalformedHash.
func ParsePHC(s string) (PHC, error) {
	if len(s) > maxPHCLength {
		return PHC{}, malformed("hash is %d bytes long", len(s))
	}
	fields := strings.Split(s, "$")
	if len(fields) != 6 || fields[0] != "" {
		return PHC{}, malformed("want 5 $-separated fields")
	}
	// The contents of stored hashes stay out of error messages: errors end
	// up in logs, and a hash (or a password pasted into the wrong field)
	// must not.
	if fields[1] != "argon2id" && fields[1] != "argon2i" {
		return PHC{}, malformed("algorithm is not argon2id or argon2i")
	}
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return PHC{}, malformed("version is not %d", argon2.Version)
	}
	params, err := parseParams(fields[3])
	if err != nil {
		return PHC{}, err
	}
	salt, err := decodeBase64("salt", fields[4])
	if err != nil {
		return PHC{}, err
	}
	key, err := decodeBase64("key", fields[5])
	if err != nil {
		return PHC{}, err
	}
	params.SaltLength = uint32(len(salt))
	params.KeyLength = uint32(len(key))
	return PHC{Variant: fields[1], Params: params, Version: argon2.Version, Salt: salt, Key: key}, nil
}

// String encodes p in the PHC string format. Params.SaltLength and
// Params.KeyLength are ignored in favour of the actual lengths.
func (p PHC) String() string {
	variant := p.Variant
	if variant == "" {
		variant = "argon2id"
	}
	return fmt.Sprintf("$%s$v=%d$m=%d,t=%d,p=%d$%s$%s",
		variant, p.Version, p.Params.Memory, p.Params.Iterations, p.Params.Parallelism,
		base64.RawStdEncoding.EncodeToString(p.Salt),
		base64.RawStdEncoding.EncodeToString(p.Key))
}

func parseParams(s string) (Params, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return Params{}, malformed("want exactly the parameters m, t and p")
	}
	var vals [3]uint64
	for i, spec := range []struct {
		name string
		max  uint64
	}{
		{"m", maxMemoryKiB},
		{"t", maxIterations},
		{"p", 255},
	} {
		digits, ok := strings.CutPrefix(parts[i], spec.name+"=")
		if !ok {
			return Params{}, malformed("parameter %d is not %s", i+1, spec.name)
		}
		v, ok := parsePositive(digits)
		if !ok || v > spec.max {
			return Params{}, malformed("parameter %s is not an integer in 1..%d", spec.name, spec.max)
		}
		vals[i] = v
	}
	p := Params{Memory: uint32(vals[0]), Iterations: uint32(vals[1]), Parallelism: uint8(vals[2])}
	if p.Memory < 8*uint32(p.Parallelism) {
		return Params{}, malformed("memory is below 8 KiB per lane")
	}
	return p, nil
}

// parsePositive accepts only canonical decimal: strconv would also take a
// sign, and leading zeros would give one hash several spellings.
func parsePositive(s string) (uint64, bool) {
	if s == "" || len(s) > 10 || s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

func decodeBase64(what, s string) ([]byte, error) {
	if len(s) > base64.RawStdEncoding.EncodedLen(maxBytesLength) {
		return nil, malformed("%s is longer than %d bytes", what, maxBytesLength)
	}
	b, err := base64.RawStdEncoding.Strict().DecodeString(s)
	// Strict still skips CR and LF; re-encoding catches those and any
	// other second spelling of the same bytes.
	if err != nil || base64.RawStdEncoding.EncodeToString(b) != s {
		return nil, malformed("%s is not unpadded standard base64", what)
	}
	if len(b) < minImportLength || len(b) > maxBytesLength {
		return nil, malformed("%s length %d is outside %d..%d bytes", what, len(b), minImportLength, maxBytesLength)
	}
	return b, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformedHash}, args...)...)
}
