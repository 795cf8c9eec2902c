package adminapi

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// The admin API's bearer tokens live in a file (ADMIN_TOKENS_FILE) of one
// token a line: "sha256:<hex of the SHA-256 of the token> <name>". Only
// hashes are kept: a copy of the file opens nothing. A token is 256
// random bits, so a fast hash is enough (a slow one would only make each
// admin call cost). The name says whose token it is, in the audit trail
// of every call made with it.
//
// The file is read again whenever it changes, so `authd admin tokens
// create` and `revoke`, or any edit, take effect on every running
// instance at the next call, without a restart.

// tokenPrefix marks authd's admin tokens, for secret scanners and people.
const tokenPrefix = "authd_adm_"

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

type tokenEntry struct {
	hash [sha256.Size]byte
	name string
}

// Tokens are the admin tokens of a file, read again when it changes.
type Tokens struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	stat    os.FileInfo // of the version read; nil: none
	entries []tokenEntry
}

// OpenTokens reads the token file at path. A file that does not exist
// (yet) holds no token: every call is refused until one is created.
func OpenTokens(path string, log *slog.Logger) *Tokens {
	t := &Tokens{path: path, log: log}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reload()
	if len(t.entries) == 0 {
		log.Warn("the admin API has no token yet; create one with `authd admin tokens create NAME`", "admin_tokens_file", path)
	}
	return t
}

// Match returns the name of the token, comparing its hash with every one
// in the file in constant time (no early exit): the time of a refusal
// says nothing about how close a guess came, or which token it was near.
func (t *Tokens) Match(token string) (string, bool) {
	t.mu.Lock()
	t.reload()
	entries := t.entries
	t.mu.Unlock()
	if !strings.HasPrefix(token, tokenPrefix) || len(token) > 128 {
		return "", false
	}
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i, e := range entries {
		if subtle.ConstantTimeCompare(sum[:], e.hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", false
	}
	return entries[found].name, true
}

// reload reads the file again if it changed since it was read; the caller
// holds t.mu. A file that cannot be read keeps no token: failing closed.
func (t *Tokens) reload() {
	st, err := os.Stat(t.path)
	if err != nil {
		if t.stat != nil || len(t.entries) > 0 {
			t.log.Warn("admin token file unreadable: no admin token is accepted", "admin_tokens_file", t.path, "error", err)
		}
		t.stat, t.entries = nil, nil
		return
	}
	if t.stat != nil && os.SameFile(st, t.stat) && st.ModTime().Equal(t.stat.ModTime()) && st.Size() == t.stat.Size() {
		return
	}
	b, err := os.ReadFile(t.path)
	if err != nil {
		t.log.Warn("admin token file unreadable: no admin token is accepted", "admin_tokens_file", t.path, "error", err)
		t.stat, t.entries = nil, nil
		return
	}
	entries, bad := parseTokens(b)
	for _, line := range bad {
		t.log.Error("admin token file: line ignored (want \"sha256:<64 hex digits> <name>\")", "admin_tokens_file", t.path, "line", line)
	}
	t.stat, t.entries = st, entries
}

// parseTokens reads the file's lines; bad are the numbers of the lines it
// could not read (never their content, which may be a pasted token).
func parseTokens(b []byte) (entries []tokenEntry, bad []int) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, ok := parseTokenLine(line)
		if !ok {
			bad = append(bad, n)
			continue
		}
		entries = append(entries, e)
	}
	return entries, bad
}

func parseTokenLine(line string) (tokenEntry, bool) {
	fields := strings.Fields(line)
	if len(fields) != 2 || !validName.MatchString(fields[1]) {
		return tokenEntry{}, false
	}
	h, ok := strings.CutPrefix(fields[0], "sha256:")
	raw, err := hex.DecodeString(h)
	if !ok || err != nil || len(raw) != sha256.Size {
		return tokenEntry{}, false
	}
	var e tokenEntry
	copy(e.hash[:], raw)
	e.name = fields[1]
	return e, true
}

// TokenNames lists the names of the tokens in the file at path, in order.
func TokenNames(path string) []string {
	b, _ := os.ReadFile(path)
	entries, _ := parseTokens(b)
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.name
	}
	return out
}

// ErrTokenName refuses a name that cannot be one.
var ErrTokenName = errors.New("a token name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")

// CreateToken makes a new token named name, adds its hash to the file at
// path (created, readable by its owner only, if missing) and returns the
// token, which is shown this once and stored nowhere.
func CreateToken(path, name string) (string, error) {
	if !validName.MatchString(name) {
		return "", ErrTokenName
	}
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	entries, _ := parseTokens(b)
	for _, e := range entries {
		if e.name == name {
			return "", fmt.Errorf("a token named %q exists; revoke it first", name)
		}
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(token))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return "", err
	}
	line := "sha256:" + hex.EncodeToString(sum[:]) + " " + name + "\n"
	if len(b) > 0 && b[len(b)-1] != '\n' {
		line = "\n" + line
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return "", err
	}
	return token, f.Close()
}

// RevokeToken removes the token named name from the file, replacing the
// file in one rename, so that an instance never reads half of it.
func RevokeToken(path, name string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	found := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if e, ok := parseTokenLine(strings.TrimSpace(line)); ok && e.name == name {
			found = true
			continue
		}
		out.WriteString(line + "\n")
	}
	if !found {
		return fmt.Errorf("no token is named %q", name)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".admin-tokens-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(out.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
