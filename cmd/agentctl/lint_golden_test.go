package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/schema"
)

// TestLintGolden pins `agentctl lint` in every format on the four example estates, run from
// the repository root so file names read scenarios/NAME/FILE.cue. Rewrite with -update.
func TestLintGolden(t *testing.T) {
	t.Chdir("../..")
	golden := filepath.Join("cmd", "agentctl", "testdata", "lint")
	for _, estate := range []string{"secure-baseline", "support-refunds", "devops-pipeline", "research-assistant"} {
		for _, format := range []string{"table", "json", "sarif", "junit", "github"} {
			t.Run(estate+"/"+format, func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				code := run([]string{"lint", "-o", format, filepath.Join("scenarios", estate)}, &stdout, &stderr)
				want := exitFailed
				if estate == "secure-baseline" {
					want = exitOK
				}
				if code != want || stderr.Len() > 0 {
					t.Fatalf("exit %d (want %d), stderr:\n%s", code, want, stderr.String())
				}
				testtool.Golden(t, filepath.Join(golden, estate+"."+format), stdout.Bytes(), *update)
				if format == "sarif" {
					validateSARIF(t, stdout.Bytes())
				}
			})
		}
	}
}

// validateSARIF checks a log against the official SARIF 2.1.0 schema.
func validateSARIF(t *testing.T, log []byte) {
	t.Helper()
	for _, e := range testtool.SARIFErrors(t, log) {
		t.Errorf("SARIF schema: %s", e)
	}
}

// TestChecksDoc fails when docs/checks.md is not the output of `agentctl checks -o markdown`.
// Rewrite it with -update.
func TestChecksDoc(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"checks", "-o", "markdown"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	path := filepath.Join("..", "..", "docs", "checks.md")
	if *update {
		if err := os.WriteFile(path, stdout.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/agentctl -run TestChecksDoc -update)", err)
	}
	if !bytes.Equal(stdout.Bytes(), want) {
		t.Errorf("docs/checks.md is stale: run go test ./cmd/agentctl -run TestChecksDoc -update")
	}
}

// TestLintForCheck covers the entry point `agentctl check` uses: the default table for one
// policy, and whether findings at or above high exist.
func TestLintForCheck(t *testing.T) {
	for _, tc := range []struct {
		dir       string
		failed    bool
		firstLine string
		lastLine  string
	}{
		{"../../scenarios/secure-baseline", false, "no findings", "no findings"},
		{"../../scenarios/support-refunds", true, "../../scenarios/support-refunds/approvals.cue", "24 findings: 4 critical, 10 high, 9 medium, 1 low"},
	} {
		p, err := schema.Load(tc.dir)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		cmd := &cobra.Command{}
		cmd.SetOut(&out)
		failed, err := lintForCheck(cmd, p, "high")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if failed != tc.failed || lines[0] != tc.firstLine || lines[len(lines)-1] != tc.lastLine {
			t.Errorf("%s: failed = %v, output:\n%s", tc.dir, failed, out.String())
		}
	}
}
