package schema_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/agentctl/agentctl/internal/gen"
	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/schema"
)

var sizes = []int{100, 1000, 10000}

// BenchmarkLoad measures agentctl's whole load (parse, unify with the schema, validate,
// decode, cross-reference checks) of generated estates.
func BenchmarkLoad(b *testing.B) {
	for _, n := range sizes {
		dir := b.TempDir()
		if err := gen.WriteDir(dir, gen.Options{Agents: n, Seed: 1}); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := schema.Load(dir); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCueVet runs `cue vet -c` on the same estates with the same schema embedded as
// the package's top-level definition: the cost of a straightforward CUE validation, for the
// ratio in the foundation issue. cue is built from the module go.mod pins.
func BenchmarkCueVet(b *testing.B) {
	cue := testtool.Go(b, "cuelang.org/go/cmd/cue")
	vetSchema := bytes.Replace(schema.Source, []byte("package schema"), []byte("package policy"), 1)
	vetSchema = append(vetSchema, "\n#Policy\n"...) // close the package's top level with the schema
	for _, n := range sizes {
		dir := b.TempDir()
		if err := gen.WriteDir(dir, gen.Options{Agents: n, Seed: 1}); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "schema.cue"), vetSchema, 0o644); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			for b.Loop() {
				cmd := exec.Command(cue, "vet", "-c", ".")
				cmd.Dir = dir
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("cue vet: %v\n%s", err, out)
				}
			}
		})
	}
}
