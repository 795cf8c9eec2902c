package blocklist

import "testing"

func TestCommon(t *testing.T) {
	var c Common
	if n := c.Len(); n < 10000 {
		t.Fatalf("list has %d entries, want at least 10 000", n)
	}
	for _, p := range []string{"password", "password123", "qwertyuiop", "iloveyou", "12345678"} {
		if !c.Contains(p) {
			t.Errorf("Contains(%q) = false, want true", p)
		}
	}
	for _, p := range []string{"correct horse battery staple", "g7#kq!zvLm2@x", ""} {
		if c.Contains(p) {
			t.Errorf("Contains(%q) = true, want false", p)
		}
	}
}
