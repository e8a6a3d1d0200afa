//go:build ignore

// gen writes zz_generated.go from the *.xml files: run by
// `go generate ./metadata` after changing or adding one.
package main

import (
	"fmt"
	"os"

	"github.com/ocfbox/ocfbox/metadata/internal/specgen"
)

func main() {
	out, err := specgen.Render(os.DirFS("."))
	if err != nil {
		fmt.Fprintln(os.Stderr, "metadata/gen.go:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(specgen.File, out, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "metadata/gen.go:", err)
		os.Exit(1)
	}
}
