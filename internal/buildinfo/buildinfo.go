// Package buildinfo says which build of authd is running: the version,
// commit and build date the release build stamps into the binary with
//
//	go build -ldflags "-X github.com/authd/authd/internal/buildinfo.version=v1.2.3
//	  -X github.com/authd/authd/internal/buildinfo.commit=<sha>
//	  -X github.com/authd/authd/internal/buildinfo.date=<RFC 3339>"
//
// (the Makefile and the Dockerfile do), and what the Go toolchain recorded
// when they were not stamped.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Set by the linker only (-X); the zero values mean an unstamped build.
var (
	version string
	commit  string
	date    string
)

// Info is the build of the running binary.
type Info struct {
	Version   string // "dev" when not stamped
	Commit    string // "unknown" when neither stamped nor recorded by the toolchain
	Date      string // build or commit time, RFC 3339; "unknown" likewise
	GoVersion string
}

// Get returns the stamped values, else the version control information Go
// records in builds from a checkout, else placeholders.
func Get() Info {
	i := Info{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && i.Commit == "":
				i.Commit = s.Value
			case s.Key == "vcs.time" && i.Date == "":
				i.Date = s.Value
			}
		}
		if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
	}
	if i.Version == "" {
		i.Version = "dev"
	}
	if i.Commit == "" {
		i.Commit = "unknown"
	}
	if i.Date == "" {
		i.Date = "unknown"
	}
	return i
}

// String is the one line `authd version` prints.
func (i Info) String() string {
	return "authd " + i.Version + " (commit " + i.Commit + ", built " + i.Date + ", " + i.GoVersion + ")"
}
