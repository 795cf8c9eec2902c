package seal

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpensWithCurrentAndPreviousKeys(t *testing.T) {
	oldKey := bytes.Repeat([]byte("o"), 32)
	newKey := bytes.Repeat([]byte("n"), 32)
	before, err := New("purpose a", oldKey)
	if err != nil {
		t.Fatal(err)
	}
	sealed := before.Seal([]byte("secret"))
	if bytes.Contains(sealed, []byte("secret")) {
		t.Fatal("the plaintext shows in the sealed data")
	}
	if again := before.Seal([]byte("secret")); bytes.Equal(again, sealed) {
		t.Error("two seals of one plaintext are equal: the nonce is not fresh")
	}
	rotated, err := New("purpose a", newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		box    *Box
		sealed []byte
		ok     bool
	}{
		{"sealed before the rotation", rotated, sealed, true},
		{"sealed after it", rotated, rotated.Seal([]byte("secret")), true},
		{"new key without the old", mustNew(t, "purpose a", newKey), sealed, false},
		{"another purpose", mustNew(t, "purpose b", oldKey), sealed, false},
		{"tampered", rotated, flip(sealed), false},
		{"truncated", rotated, sealed[:5], false},
	}
	for _, tt := range tests {
		plain, err := tt.box.Open(tt.sealed)
		switch {
		case tt.ok && (err != nil || string(plain) != "secret"):
			t.Errorf("%s: Open = %q, %v", tt.name, plain, err)
		case !tt.ok && !errors.Is(err, ErrUnsealable):
			t.Errorf("%s: Open = %q, %v; want ErrUnsealable", tt.name, plain, err)
		}
	}
	if _, err := New("p", []byte("short")); err == nil {
		t.Error("a 5-byte secret was accepted")
	}
}

func mustNew(t *testing.T, purpose string, secret []byte) *Box {
	t.Helper()
	b, err := New(purpose, secret)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func flip(b []byte) []byte {
	c := bytes.Clone(b)
	c[len(c)-1] ^= 1
	return c
}
