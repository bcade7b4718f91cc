package gate

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentctl/agentctl/lint"
)

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

const policySrc = `package policy

agents: bot: {
	owner: "team"
	credential: ttl: "10m"
	grants: [{tool: "kb", actions: ["search"]}]
}
tools: kb: {auth: kind: "workload_identity", actions: search: effect: "read"}
`

// TestSettings: the configuration file applies, and an override replaces it, naming the
// flag as its source.
func TestSettings(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, ".agentctl.yaml"), "fail_on: medium\n")
	write(t, filepath.Join(dir, "p", "policy.cue"), policySrc)
	t.Chdir(dir)
	var stderr bytes.Buffer
	runs, err := Settings(&stderr, []string{"p"}, "", "", Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if runs[0].FailOn != lint.Medium || runs[0].Settings.FailOn.Source != ".agentctl.yaml:1:1" {
		t.Errorf("fail_on %v from %s, want medium from .agentctl.yaml:1:1", runs[0].FailOn, runs[0].Settings.FailOn.Source)
	}
	critical := "critical"
	runs, err = Settings(&stderr, []string{"p"}, "", "", Overrides{FailOn: &critical})
	if err != nil {
		t.Fatal(err)
	}
	if runs[0].FailOn != lint.Critical || runs[0].Settings.FailOn.Source != "flag --fail-on" {
		t.Errorf("fail_on %v from %s, want critical from the flag", runs[0].FailOn, runs[0].Settings.FailOn.Source)
	}
	bad := "severe"
	_, err = Settings(&stderr, []string{"p"}, "", "", Overrides{FailOn: &bad})
	var ie *InputError
	if !errors.As(err, &ie) || ie.Printed || !strings.HasPrefix(err.Error(), "--fail-on: ") {
		t.Errorf("bad --fail-on: %v, want an unprinted input error", err)
	}
	// diff's threshold flag is --severity: its errors and its source say so.
	_, err = Settings(&stderr, []string{"p"}, "", "", Overrides{FailOn: &bad, FailOnFlag: "--severity"})
	if err == nil || !strings.HasPrefix(err.Error(), "--severity: ") {
		t.Errorf("bad --severity: %v", err)
	}
	if runs, err = Settings(&stderr, []string{"p"}, "", "", Overrides{FailOn: &critical, FailOnFlag: "--severity"}); err != nil {
		t.Fatal(err)
	}
	if src := runs[0].Settings.FailOn.Source; src != "flag --severity" {
		t.Errorf("--severity: source %q", src)
	}
	// A selection that skips every check runs none (lint and check refuse it; diff reports
	// no finding): never nil, which would run them all.
	all := []string{}
	for _, c := range lint.Checks() {
		all = append(all, c.ID)
	}
	if runs, err = Settings(&stderr, []string{"p"}, "", "", Overrides{Skip: &all}); err != nil {
		t.Fatal(err)
	}
	if runs[0].Checks == nil || len(runs[0].Checks) != 0 || runs[0].LintOptions().Checks == nil {
		t.Errorf("every check skipped: checks %v, want empty and not nil", runs[0].Checks)
	}
	// NoCheck names where the selection comes from: the flags, or the file's positions.
	if err := runs[0].NoCheck(); !errors.As(err, &ie) || err.Error() != "--skip skips every check: no check left to run" {
		t.Errorf("every check skipped by --skip: %v", err)
	}
	write(t, filepath.Join(dir, ".agentctl.yaml"), "checks:\n  enable: [AC031]\n  skip: [AC031]\n")
	if runs, err = Settings(&stderr, []string{"p"}, "", "", Overrides{}); err != nil {
		t.Fatal(err)
	}
	want := ".agentctl.yaml:3:3: checks.skip skips every check that checks.enable (.agentctl.yaml:2:3) enables: no check left to run"
	if err := runs[0].NoCheck(); err == nil || err.Error() != want {
		t.Errorf("every check skipped by the file: %v, want %s", err, want)
	}
	if err := (Dir{Checks: lint.Checks()}).NoCheck(); err != nil {
		t.Errorf("checks to run: %v", err)
	}
	write(t, filepath.Join(dir, ".agentctl.yaml"), "fail_on: severe\n")
	_, err = Settings(&stderr, []string{"p"}, "", "", Overrides{})
	if !errors.As(err, &ie) || !ie.Printed || !strings.Contains(stderr.String(), ".agentctl.yaml:1:10: fail_on: ") {
		t.Errorf("bad configuration: %v, stderr %q; want the positions printed", err, stderr.String())
	}
}

// TestLintBaselines: a configured baseline that does not exist is an input error naming
// how to write it, unless the run writes it; entries are scoped by directory.
func TestLintBaselines(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, ".agentctl.yaml"), "baseline: base.json\n")
	write(t, filepath.Join(dir, "staging", "policy.cue"), policySrc)
	write(t, filepath.Join(dir, "prod", "policy.cue"), policySrc)
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	run := func(dirs []string, writeBaseline string) (*LintResult, error) {
		runs, err := Settings(&stderr, dirs, "", "", Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		policies, loadErrs, err := Load(&stderr, dirs, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return Lint(runs, policies, loadErrs, LintOptions{WriteBaseline: writeBaseline, Stdout: &stdout, Stderr: &stderr})
	}
	_, err := run([]string{"staging"}, "")
	if err == nil || !strings.Contains(err.Error(), "agentctl lint --write-baseline base.json") {
		t.Errorf("missing baseline: %v", err)
	}
	res, err := run([]string{"staging"}, "base.json")
	if err != nil || res.Failed {
		t.Fatalf("write baseline: %v, failed %v", err, res != nil && res.Failed)
	}
	res, err = run([]string{"prod"}, "")
	if err != nil || !res.Failed {
		t.Errorf("prod with staging's baseline: %v, failed %v; want its finding active", err, res != nil && res.Failed)
	}
	if strings.Contains(stderr.String(), "stale") {
		t.Errorf("stale entries reported for a directory not linted:\n%s", stderr.String())
	}
}

func TestBaselineDir(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct{ root, baseline, dir, want string }{
		{root, "x.json", filepath.Join(root, "policies", "hr"), "policies/hr"},
		{root, "x.json", root, "."},
		{"", filepath.Join(root, "b.json"), filepath.Join(root, "p"), "p"},
	} {
		if got := BaselineDir(tc.root, tc.baseline, tc.dir); got != tc.want {
			t.Errorf("BaselineDir(%s, %s, %s) = %q, want %q", tc.root, tc.baseline, tc.dir, got, tc.want)
		}
	}
}
