// Command stamp prints the build information it was linked with, for
// TestStampedBuild.
package main

import (
	"fmt"

	"github.com/authd/authd/internal/buildinfo"
)

func main() { fmt.Print(buildinfo.Get().String()) }
