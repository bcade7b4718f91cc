package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/agentctl/agentctl/diff"
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"fail_on: severe\n", `.agentctl.yaml:1:10: fail_on: invalid value "severe" (want one of "critical", "high", "info", "low", "medium")`},
		{"fail_on: high\nbogus: 1\n", ".agentctl.yaml:2:1: bogus: unknown key"},
		{"checks:\n  skip: AC051\n", `.agentctl.yaml:2:9: checks.skip: wrong type: got string "AC051", want a list`},
		{"inline_suppressions: yes\n", `.agentctl.yaml:1:22: inline_suppressions: wrong type: got string "yes", want bool`},
		{"output: [xml]\n", `.agentctl.yaml:1:10: output[0]: invalid output "xml" (want FORMAT or FORMAT=FILE, FORMAT one of table, json, sarif, junit, github)`},
		{"checks:\n  skip: [AC051, nope]\n", `.agentctl.yaml:2:17: checks.skip[1]: unknown check "nope" (see 'agentctl checks')`},
		{"overrides:\n  - paths: [legacy]\n    checks: {severity: {AC999: low}}\n", `.agentctl.yaml:3:25: overrides[0].checks.severity.AC999: unknown check "AC999" (see 'agentctl checks')`},
		{"overrides:\n  - fail_on: low\n", ".agentctl.yaml:2:5: overrides[0].paths: missing required key"},
		{"overrides:\n  - paths: legacy\n", `.agentctl.yaml:2:12: overrides[0].paths: wrong type: got string "legacy", want a list`},
		{"fail_on: 3\n", `.agentctl.yaml:1:10: fail_on: invalid value 3 (want one of "critical", "high", "info", "low", "medium")`},
		// CUE reports an unknown key next to another error of its struct only once that
		// error is fixed: the second round names it.
		{"overrides:\n  - paths: [a]\n    fail_on: 3\n    outputs: x\n", `.agentctl.yaml:3:14: overrides[0].fail_on: invalid value 3 (want one of "critical", "high", "info", "low", "medium")`},
		{"overrides:\n  - paths: [a]\n    fail_on: low\n    outputs: x\n", ".agentctl.yaml:4:5: overrides[0].outputs: unknown key"},
		{"fail_on: [\n", ".agentctl.yaml:1:10: did not find expected node content"},
		// The decoder's errors without a position (config-positionless reproducer), a value
		// that CUE would print on several lines, a number too large for 64 bits.
		{"fail_on: *nope\n", ".agentctl.yaml:1:10: alias *nope refers to no anchor (define &nope before using it)"},
		{"fail_on: high\n---\nfail_on: low\n", ".agentctl.yaml:2:1: .agentctl.yaml holds one YAML document; a second one starts here"},
		{"---\nfail_on: high\n---\n", ".agentctl.yaml:3:1: .agentctl.yaml holds one YAML document; a second one starts here"},
		{"fail_on: hi\xffgh\n", ".agentctl.yaml:1:12: invalid UTF-8 byte 0xff (the file must be UTF-8)"},
		{"fail_on: high\x01\n", ".agentctl.yaml:1:14: control character U+0001 is not allowed (YAML allows tab, line feed and carriage return)"},
		{"checks:\n  skip: [\u0085x\x7f]\n", ".agentctl.yaml:2:13: control character U+007F is not allowed (YAML allows tab, line feed and carriage return)"},
		{"a: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n", ".agentctl.yaml:1:10004: nested deeper than 10000 levels"},
		{"fail_on: high\nchecks:\n  skip: [a\n  enable: b\n", ".agentctl.yaml:3:10: did not find expected ',' or ']'"},
		{"fail_on: high\nchecks: skip: x\n", ".agentctl.yaml:2:13: mapping values are not allowed in this context"},
		{"overrides: {paths: x}\n", ".agentctl.yaml:1:12: overrides: wrong type: got a mapping, want a list"},
		{"- fail_on: high\n", ".agentctl.yaml:1:1: wrong type: got a list, want a mapping"},
		{"fail_on: 99999999999999999999999999\n", `.agentctl.yaml:1:10: fail_on: invalid value 99999999999999999999999999 (want one of "critical", "high", "info", "low", "medium")`},
		{"inline_suppressions: 99999999999999999999999999\n", ".agentctl.yaml:1:22: inline_suppressions: wrong type: got number 99999999999999999999999999, want bool"},
		{"checks: {severity: {AC010: {a: 1}}}\n", `.agentctl.yaml:1:28: checks.severity.AC010: invalid value a mapping (want one of "critical", "high", "info", "low", "medium")`},
	} {
		_, err := Parse(".agentctl.yaml", []byte(tc.src))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.src, err, tc.want)
		}
	}
}

func TestForOverrides(t *testing.T) {
	dir := t.TempDir()
	src := `fail_on: medium
baseline: base.json
checks:
  skip: [AC051]
  severity: {missing-owner: info}
overrides:
  - paths: ["legacy/**"]
    fail_on: critical
    inline_suppressions: false
  - paths: ["legacy/old"]
    checks: {skip: []}
`
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.For(filepath.Join(dir, "legacy", "old"))
	if err != nil {
		t.Fatal(err)
	}
	if s.FailOn.V != "critical" || s.FailOn.Source != path+":8:5" {
		t.Errorf("fail_on = %+v", s.FailOn)
	}
	if s.InlineSuppressions.V || len(s.Skip.V) != 0 || s.Skip.Source != path+":11:14" {
		t.Errorf("override not applied: %+v %+v", s.InlineSuppressions, s.Skip)
	}
	if s.Baseline.V != filepath.Join(dir, "base.json") || s.Severity["missing-owner"].V != "info" {
		t.Errorf("baseline %+v severity %+v", s.Baseline, s.Severity)
	}
	top, _ := f.For(filepath.Join(dir, "current"))
	if top.FailOn.V != "medium" || top.Skip.V[0] != "AC051" || !top.InlineSuppressions.V || top.InlineSuppressions.Source != Default {
		t.Errorf("top-level settings: %+v", top)
	}
}

func TestMatchGlob(t *testing.T) {
	for _, tc := range []struct {
		pat, name string
		want      bool
	}{
		{"legacy/**", "legacy", true},
		{"legacy/**", "legacy/a/b", true},
		{"**/prod", "a/b/prod", true},
		{"**/prod", "prod", true},
		{"scenarios/*", "scenarios/x", true},
		{"scenarios/*", "scenarios/x/y", false},
		{"legacy", "legacy2", false},
	} {
		if got := MatchGlob(tc.pat, tc.name); got != tc.want {
			t.Errorf("MatchGlob(%q, %q) = %v", tc.pat, tc.name, got)
		}
	}
}

func TestFindStopsAtRepoRoot(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	pol := filepath.Join(repo, "policies", "a")
	for _, d := range []string{filepath.Join(repo, ".git"), pol} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A file above the repository root is not the repository's configuration.
	if err := os.WriteFile(filepath.Join(dir, FileName), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := Find(pol); err != nil || got != "" {
		t.Fatalf("Find = %q, %v; want none", got, err)
	}
	want := filepath.Join(repo, FileName)
	if err := os.WriteFile(want, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := Find(pol); got != want {
		t.Errorf("Find = %q, want %q", got, want)
	}
	if got := RepoRoot(pol); got != repo {
		t.Errorf("RepoRoot = %q, want %q", got, repo)
	}
}

// TestDocsExample keeps the example in docs/ci.md valid, with the sources it shows.
func TestDocsExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/ci.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n# .agentctl.yaml\n")
	if !ok {
		t.Fatal("docs/ci.md has no .agentctl.yaml example")
	}
	src, _, _ := strings.Cut(rest, "```")
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, []byte("# .agentctl.yaml\n"+src), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatalf("the documented example does not load: %v", err)
	}
	s, err := f.For(filepath.Join(dir, "policies", "legacy"))
	if err != nil {
		t.Fatal(err)
	}
	if s.FailOn.V != "critical" || s.FailOn.Source != path+":16:5" || s.Skip.Source != path+":17:14" {
		t.Errorf("docs/ci.md shows fail_on at .agentctl.yaml:16:5 and checks.skip at 17:14; got %+v %+v", s.FailOn, s.Skip)
	}
	if v, _ := f.DiffFailOn(); v.Source != path+":19:3" {
		t.Errorf("docs/ci.md shows diff.fail_on at .agentctl.yaml:19:3; got %+v", v)
	}
}

// TestCheckPaths: files the configuration names stay inside the root once symbolic links
// are resolved, a dangling link's target included (writing through it would create the
// target), and are regular files when they exist.
func TestCheckPaths(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "repo")
	for _, d := range []string{"repo/sub", "repo/reports", "outside"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"repo/dangling.json": "../outside/new.json",   // target does not exist yet
		"repo/loop.json":     "loop.json",             // a cycle
		"repo/inside.json":   "sub/../reports/x.json", // resolves inside
		"repo/sub/up":        "..",                    // a directory link that stays inside
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(base, name)); err != nil {
			t.Fatal(err)
		}
	}
	src := `baseline: sub/up/inside.json
output:
  - table=dangling.json
  - json=loop.json
  - sarif=sub/up/reports/new.sarif
  - junit=reports
  - github=-
`
	f, err := Parse(filepath.Join(root, FileName), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	err = f.CheckPaths(root)
	want := []string{
		fmt.Sprintf(`%s:3:5: output[0]: "dangling.json" (%s) is outside the repository %s: files named in .agentctl.yaml stay inside it`,
			filepath.Join(root, FileName), filepath.Join(base, "outside", "new.json"), root),
		fmt.Sprintf(`%s:4:5: output[1]: "loop.json": %s: too many levels of symbolic links`, filepath.Join(root, FileName), filepath.Join(root, "loop.json")),
		fmt.Sprintf(`%s:6:5: output[3]: "reports" is a directory, not a regular file`, filepath.Join(root, FileName)),
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("CheckPaths:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

// TestDiffFailOnConditions: diff.fail_on takes every condition agentctl diff's --fail-on
// takes, and only those.
func TestDiffFailOnConditions(t *testing.T) {
	for _, c := range diff.Conditions {
		f, err := Parse(FileName, []byte("diff:\n  fail_on: ["+c+"]\n"))
		if err != nil {
			t.Errorf("diff.fail_on: [%s]: %v", c, err)
			continue
		}
		if v, ok := f.DiffFailOn(); !ok || !slices.Equal(v.V, []string{c}) {
			t.Errorf("diff.fail_on: [%s] reads as %v, %v", c, v.V, ok)
		}
	}
	if _, err := Parse(FileName, []byte("diff:\n  fail_on: [new-escalations]\n")); err == nil {
		t.Error("diff.fail_on: [new-escalations] is accepted")
	}
}
