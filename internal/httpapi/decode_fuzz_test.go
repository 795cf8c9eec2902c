package httpapi

import (
	"errors"
	"net/http"
	"testing"
)

// FuzzDecodeBody checks that the strict decoder never panics, and that it
// either fills the request or answers with a 400 or 422 request error.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{
		`{"identifier":"a@example.com","password":"correct horse"}`,
		`{"identifier":"a@example.com","identifier":"b@example.com"}`,
		`{"a":{"b":{"c":[1,2,{"d":null}]}}}`,
		`[]`, `null`, `"x"`, `{}`, `{}{}`, `{"password":1}`, "{\"x\":\"\xff\"}", `{"username":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req registerRequest
		err := decodeBody(body, &req)
		if err == nil {
			return
		}
		var re *requestError
		if !errors.As(err, &re) {
			t.Fatalf("decodeBody(%q) = %T %v, want a *requestError", body, err, err)
		}
		if re.status != http.StatusBadRequest && re.status != http.StatusUnprocessableEntity {
			t.Fatalf("decodeBody(%q) status = %d", body, re.status)
		}
		if re.status == http.StatusUnprocessableEntity && len(re.fields) == 0 {
			t.Fatalf("decodeBody(%q): 422 without a field", body)
		}
	})
}

func TestDecodeBody(t *testing.T) {
	tests := []struct {
		body       string
		wantStatus int // 0 = ok
	}{
		{`{"identifier":"a@example.com","password":"pw"}`, 0},
		{` {"identifier":"a"} `, 0},
		{`{"identifier":"a","identifier":"b"}`, 400},
		{`{"nested":{"x":1,"x":2}}`, 400},
		{`{"identifier":"a"} {}`, 400},
		{`{"identifier":"a"} x`, 400},
		{`[]`, 400},
		{`null`, 400},
		{``, 400},
		{"{\"identifier\":\"\xc3\x28\"}", 400},
		{`{"identifier":1}`, 422},
		{`{"role":"admin"}`, 422},
	}
	for _, tt := range tests {
		var req registerRequest
		err := decodeBody([]byte(tt.body), &req)
		var re *requestError
		switch {
		case tt.wantStatus == 0 && err != nil:
			t.Errorf("decodeBody(%q) = %v, want ok", tt.body, err)
		case tt.wantStatus != 0 && (!errors.As(err, &re) || re.status != tt.wantStatus):
			t.Errorf("decodeBody(%q) = %v, want status %d", tt.body, err, tt.wantStatus)
		}
	}
}

func TestHasLoneSurrogate(t *testing.T) {
	tests := []struct {
		body string
		want bool
	}{
		{`{"a":"plain"}`, false},
		{`{"a":"\ud83d\ude00"}`, false}, // a pair: 😀
		{`{"a":"\\ud800"}`, false},      // an escaped backslash, then text
		{`{"a":"\u00e9"}`, false},
		{`{"a":"\ud800"}`, true},
		{`{"a":"\udc00"}`, true},
		{`{"a":"\ud800x"}`, true},
		{`{"a":"\ud800\u0041"}`, true},
		{`{"a":"\ud800\ud800"}`, true},
		{`{"a":"x\ud800`, true},
	}
	for _, tt := range tests {
		if got := hasLoneSurrogate([]byte(tt.body)); got != tt.want {
			t.Errorf("hasLoneSurrogate(%s) = %v, want %v", tt.body, got, tt.want)
		}
	}
}
