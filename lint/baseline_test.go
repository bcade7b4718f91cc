package lint_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentctl/agentctl/lint"
)

const baselinePolicy = `package policy

tools: crm: {auth: kind: "workload_identity", actions: {read: effect: "read", update: effect: "write"}}
agents: {
	billing: grants: [{tool: "crm", actions: ["*"]}]
	triage: grants: [{tool: "crm", actions: ["read"]}]
}
`

func lintSource(t *testing.T, src string) []lint.Finding {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.cue"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return lint.Run(load(t, dir), lint.Options{})
}

func TestBaseline(t *testing.T) {
	fs := lintSource(t, baselinePolicy)
	var buf bytes.Buffer
	if err := lint.NewBaseline(fs).Write(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "baseline.json")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := lint.ReadBaseline(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Findings) != len(fs) {
		t.Fatalf("baseline has %d entries, want one per finding (%d)", len(b.Findings), len(fs))
	}

	// Moving lines keeps every entry valid: all findings are baselined, nothing is stale.
	moved := strings.Replace(baselinePolicy, "agents: {", "// a comment\n\n\nagents: {", 1)
	fs = lintSource(t, moved)
	if stale := b.Apply(fs, lint.Checks()); len(stale) != 0 {
		t.Errorf("stale entries after moving lines: %v", stale)
	}
	for _, f := range fs {
		if f.Suppression == nil || f.Suppression.Kind != lint.SuppressedBaseline {
			t.Errorf("not baselined after moving lines: %s %s at %s", f.Check.ID, f.Element, f.Pos)
		}
	}

	// Fixing billing's wildcard grant leaves its entries stale; a new problem is not covered.
	fixed := strings.Replace(moved, `actions: ["*"]`, `actions: ["read"]`, 1)
	fixed = strings.Replace(fixed, `triage: grants`, `ops: autonomy: "autonomous"
	triage: grants`, 1)
	fs = lintSource(t, fixed)
	var staleIDs []string
	for _, e := range b.Apply(fs, lint.Checks()) {
		staleIDs = append(staleIDs, e.Check+" "+e.Element)
	}
	if got, want := strings.Join(staleIDs, "; "), "AC010 agents.billing.grants[0]; AC011 agents.billing.grants[0]"; got != want {
		t.Errorf("stale = %q, want %q", got, want)
	}
	var active []string
	for _, f := range fs {
		if !f.Suppressed() {
			active = append(active, f.Check.ID+" "+f.Element)
		}
	}
	if got, want := strings.Join(active, "; "), "AC001 agents.ops; AC003 agents.ops; AC051 agents.ops; AC052 agents.ops"; got != want {
		t.Errorf("active = %q, want %q", got, want)
	}
}

func TestReadBaselineErrors(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"bad-json.json":    `{"schema_version": 1, "findings": [}`,
		"bad-version.json": `{"schema_version": 2, "findings": []}`,
		"bad-entry.json":   `{"schema_version": 1, "findings": [{"check": "AC001"}]}`,
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := lint.ReadBaseline(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v, want an error naming the file", name, err)
		}
	}
}

func TestFingerprintIgnoresPosition(t *testing.T) {
	if lint.Fingerprint("AC010", "agents.a.grants[0]") == lint.Fingerprint("AC010", "agents.a.grants[1]") {
		t.Error("different elements share a fingerprint")
	}
	if got := lint.Fingerprint("AC010", "agents.a.grants[0]"); len(got) != 16 {
		t.Errorf("fingerprint %q: want 16 hex digits", got)
	}
}
