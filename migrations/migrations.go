// Package migrations embeds the goose SQL migrations so the authd binary
// can apply them. The files stay plain SQL so the goose CLI can run the same
// folder.
package migrations

import "embed"

// FS holds every migration, named <version>_<name>.sql.
//
//go:embed *.sql
var FS embed.FS
