// Package blocklist knows the passwords too common to allow: the 20 000
// most frequent passwords of 8 or more characters from the SecLists
// "10 million passwords" top-1M list (MIT licence), lower-cased. The list
// ships inside the binary and is loaded once, on first use.
package blocklist

import (
	_ "embed"
	"strings"
	"sync"
)

//go:embed common-passwords.txt
var commonPasswords string

// Common is the list of common passwords.
type Common struct {
	once sync.Once
	set  map[string]struct{}
}

// Contains reports whether the lower-cased password is on the list.
func (c *Common) Contains(lowerPassword string) bool {
	c.once.Do(c.load)
	_, ok := c.set[lowerPassword]
	return ok
}

// Len is the number of entries.
func (c *Common) Len() int {
	c.once.Do(c.load)
	return len(c.set)
}

func (c *Common) load() {
	lines := strings.Split(commonPasswords, "\n")
	c.set = make(map[string]struct{}, len(lines))
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			c.set[l] = struct{}{}
		}
	}
}
