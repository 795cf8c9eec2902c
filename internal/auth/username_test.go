package auth

import (
	"strings"
	"testing"
)

func TestParseUsername(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"  ", "", true},
		{"bob", "bob", true},
		{" Bob_99 ", "Bob_99", true},
		{"jörg.m-1", "jörg.m-1", true},
		{"ab", "", false},
		{strings.Repeat("a", 33), "", false},
		{"_bob", "", false},
		{"bo b", "", false},
		{"bob<script>", "", false},
		{"bob'; DROP TABLE identities;--", "", false},
		{"bob\x00", "", false},
	}
	for _, tt := range tests {
		got, err := ParseUsername(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseUsername(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseGeoLocation(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{" Berlin, DE ", "Berlin, DE", true},
		{"<b>Paris</b>", "<b>Paris</b>", true}, // stored as text; escaping is the renderer's job
		{strings.Repeat("x", 128), strings.Repeat("x", 128), true},
		{strings.Repeat("x", 129), "", false},
		{"Ber\x00lin", "", false},
		{"Ber\nlin", "", false},
	}
	for _, tt := range tests {
		got, err := ParseGeoLocation(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseGeoLocation(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
