// Package agentdojo holds the AgentDojo benchmark harness (harness.py, see docs/benchmark.md)
// and this test, which runs the harness on the minisuite (minisuite/, standard-library Python
// in AgentDojo's shape) through a real OPA server and asserts its result table exactly. CI
// cannot fetch AgentDojo itself; the minisuite keeps the harness, the protocol and the
// policies' language features (conditions, runtime lists, the integrity rule) tested.
package agentdojo

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/schema"
)

var update = flag.Bool("update", false, "rewrite testdata/minisuite.md and .json")

// compileEnv makes the test binary act as `agentctl compile DIR -o OUT` when the harness runs
// it, so the test needs no agentctl build of its own.
const compileEnv = "AGENTDOJO_TEST_COMPILE"

func TestMain(m *testing.M) {
	if os.Getenv(compileEnv) == "1" {
		if err := compileMain(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func compileMain(args []string) error {
	if len(args) != 4 || args[0] != "compile" || args[2] != "-o" {
		return fmt.Errorf("usage: compile DIR -o OUT, got %q", args)
	}
	p, err := schema.Load(args[1])
	if err != nil {
		return err
	}
	b, err := compile.Bundle(p)
	if err != nil {
		return fmt.Errorf("compile %s: %w", args[1], err)
	}
	data, err := compile.Archive(b)
	if err != nil {
		return err
	}
	return os.WriteFile(args[3], data, 0o644)
}

// TestMinisuite runs harness.py on the minisuite with bundles compiled from
// minisuite/policies/mini and served by `opa run --server`, and compares the markdown table
// and the JSON figures with the goldens. The expected figures are argued in
// minisuite/minisuite.py and the policy's comments: the integrity rule stops the attacker's
// payment and the payment to a recipient read from a file, the flow rule the balance mailed
// out and leaked through a URL; the text-only goal is counted apart.
func TestMinisuite(t *testing.T) {
	python := testtool.Look(t, "python3")
	opa := testtool.Go(t, "github.com/open-policy-agent/opa")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Go caches a passing test by the files the test process opens: read the harness's
	// sources, so that a change to them (which only python3 reads) reruns the test.
	for _, pattern := range []string{"*.py", "minisuite/*.py", "minisuite/policies/*/*"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if _, err := os.ReadFile(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	out := t.TempDir()
	cmd := exec.Command(python, "harness.py", "--agentctl", self, "--opa", opa,
		"--policies", filepath.Join("minisuite", "policies"),
		"--suite-module", filepath.Join("minisuite", "minisuite.py"), "--out", out)
	cmd.Env = append(os.Environ(), compileEnv+"=1", "PYTHONDONTWRITEBYTECODE=1")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("harness: %v\n%s", err, msg)
	}
	for _, name := range []string{"results.md", "results.json"} {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		testtool.Golden(t, filepath.Join("testdata", "minisuite."+filepath.Ext(name)[1:]), got, *update)
	}
}
