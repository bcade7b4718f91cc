package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentctl/agentctl/internal/testtool"
)

// TestLintGolden pins `agentctl lint` in every format on the four example estates, run from
// the repository root so file names read scenarios/NAME/FILE.cue. Rewrite with -update.
func TestLintGolden(t *testing.T) {
	t.Chdir("../..")
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("cmd", "agentctl", "testdata", "lint")
	for _, estate := range []string{"secure-baseline", "support-refunds", "devops-pipeline", "research-assistant"} {
		for _, format := range []string{"table", "json", "sarif", "junit", "github"} {
			t.Run(estate+"/"+format, func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				code := run([]string{"lint", "--root", ".", "-o", format, filepath.Join("scenarios", estate)}, &stdout, &stderr)
				want := exitFailed
				if estate == "secure-baseline" {
					want = exitOK
				}
				if code != want || stderr.Len() > 0 {
					t.Fatalf("exit %d (want %d), stderr:\n%s", code, want, stderr.String())
				}
				// SARIF names the checkout's absolute path as SRCROOT: normalise it.
				got := bytes.ReplaceAll(stdout.Bytes(), []byte(`"file://`+filepath.ToSlash(wd)+`/"`), []byte(`"file:///REPO/"`))
				testtool.Golden(t, filepath.Join(golden, estate+"."+format), got, *update)
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

// TestSARIFFromSubdirectory: run from inside a policy directory of a repository, with a
// second directory that does not load, lint writes SARIF whose locations are relative to
// the repository root (SRCROOT) and which validates against the SARIF 2.1.0 schema.
func TestSARIFFromSubdirectory(t *testing.T) {
	repo := t.TempDir()
	est := filepath.Join(repo, "policies", "refunds")
	for _, d := range []string{filepath.Join(repo, ".git"), est, filepath.Join(repo, "broken")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob("../../scenarios/support-refunds/*.cue")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(est, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, "broken", "policy.cue"), []byte("agents: a: autonomy: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(est)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"lint", "-o", "sarif=../../out.sarif", ".", "../../broken"}, &stdout, &stderr); code != exitUsage {
		t.Fatalf("exit %d, want 2 (a directory did not load); stderr:\n%s", code, stderr.String())
	}
	log, err := os.ReadFile(filepath.Join(repo, "out.sarif"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(wd) // the validator finds the schema from the module
	validateSARIF(t, log)
	var doc struct {
		Runs []struct {
			Results []struct {
				RuleID    string
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI, URIBaseID string }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(log, &doc); err != nil {
		t.Fatal(err)
	}
	rules := map[string]bool{}
	for _, r := range doc.Runs[0].Results {
		rules[r.RuleID] = true
		loc := r.Locations[0].PhysicalLocation.ArtifactLocation
		dir := "policies/refunds/"
		if r.RuleID == "load-error" {
			dir = "broken/"
		}
		if !strings.HasPrefix(loc.URI, dir) || loc.URIBaseID != "SRCROOT" {
			t.Errorf("%s result at %+v, want %s... relative to SRCROOT", r.RuleID, loc, dir)
		}
	}
	if !rules["load-error"] || !rules["AC034"] {
		t.Errorf("results have rules %v, want the findings and the load error", rules)
	}
}

// TestDiffSARIFRepoRelative runs diff from inside a policy directory: its SARIF locations
// are relative to the repository root, like lint's, and the log validates.
func TestDiffSARIFRepoRelative(t *testing.T) {
	t.Chdir("../../scenarios/support-refunds")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"diff", "-o", "sarif", "../secure-baseline", "."}, &stdout, &stderr); code != exitFailed {
		t.Fatalf("exit %d (want %d), stderr:\n%s", code, exitFailed, stderr.String())
	}
	var log struct {
		Runs []struct {
			Results []struct {
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI       string `json:"uri"`
							URIBaseID string `json:"uriBaseId"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range log.Runs[0].Results {
		for _, l := range r.Locations {
			a := l.PhysicalLocation.ArtifactLocation
			if a.URI == "" {
				continue // a logical location only: a decision of an agent HEAD removed
			}
			if !strings.HasPrefix(a.URI, "scenarios/support-refunds/") || a.URIBaseID != "SRCROOT" {
				t.Errorf("location %+v, want scenarios/support-refunds/... under SRCROOT", a)
			}
			n++
		}
	}
	if n == 0 {
		t.Error("no physical locations")
	}
	validateSARIF(t, stdout.Bytes()) // last: it skips when the schema is not beside the checkout
}
