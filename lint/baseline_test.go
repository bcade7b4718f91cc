package lint_test

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentctl/agentctl/internal/testtool"
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
	return lint.Run(testtool.Load(t, dir), lint.Options{})
}

func TestBaseline(t *testing.T) {
	fs := lintSource(t, baselinePolicy)
	var buf bytes.Buffer
	if err := lint.NewBaseline([]lint.DirFindings{{Dir: "p", Findings: fs}}, nil).Write(&buf); err != nil {
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
		"bad-version.json": `{"schema_version": 4, "findings": []}`,
		"no-version.json":  `{"findings": []}`,
		"bad-entry.json":   `{"schema_version": 1, "findings": [{"check": "AC001"}]}`,
		"bad-entry2.json":  `{"schema_version": 2, "findings": [{"check": "AC001", "element": "agents.a"}]}`,
		"no-dir.json":      `{"schema_version": 3, "findings": [{"check": "AC001", "fingerprint": "0123456789abcdef"}]}`,
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

// editedPolicy has findings on grants, hand-offs, a cycle and chains that are too deep.
const editedPolicy = `package policy

settings: max_chain_depth: 1
tools: crm: {auth: kind: "workload_identity", actions: {read: effect: "read", update: effect: "write", export: effect: "export"}}
agents: {
	a: grants: [{tool: "crm", actions: ["*"]}, {tool: "crm", actions: ["update"], resources: ["x/*"]}]
	b: grants: [{tool: "crm", actions: ["export"]}]
	c: grants: []
	d: grants: []
}
handoffs: [
	{from: "a", to: "b", mode: "delegate"},
	{from: "d", to: "b", mode: "forward_credentials"},
	{from: "b", to: "c", mode: "forward_credentials"},
	{from: "c", to: "a", mode: "attenuate"},
]
`

// TestBaselineSurvivesListEdits inserts, deletes and reorders grants and hand-offs: the
// findings of every other element stay matched and only the deleted element's entries (and
// those of a chain through it) go stale.
func TestBaselineSurvivesListEdits(t *testing.T) {
	b := lint.NewBaseline([]lint.DirFindings{{Dir: "p", Findings: lintSource(t, editedPolicy)}}, nil)
	const (
		handoffAB = "\t{from: \"a\", to: \"b\", mode: \"delegate\"},\n"
		handoffDB = "\t{from: \"d\", to: \"b\", mode: \"forward_credentials\"},\n"
		handoffCA = "\t{from: \"c\", to: \"a\", mode: \"attenuate\"},\n"
	)
	for _, tc := range []struct {
		name, old, new string
		stale, added   string
	}{
		{name: "insert grant", old: `a: grants: [`, new: `a: grants: [{tool: "crm", actions: ["read"]}, `},
		{name: "delete grant", old: `, {tool: "crm", actions: ["update"], resources: ["x/*"]}`,
			stale: "AC011 agents.a.grants{tool=crm actions=update resources=x/*}"},
		{name: "reorder grants", old: `[{tool: "crm", actions: ["*"]}, {tool: "crm", actions: ["update"], resources: ["x/*"]}]`,
			new: `[{tool: "crm", actions: ["update"], resources: ["x/*"]}, {tool: "crm", actions: ["*"]}]`},
		{name: "insert hand-off", old: "handoffs: [\n", new: "handoffs: [\n\t{from: \"a\", to: \"c\", mode: \"attenuate\"},\n"},
		{name: "delete hand-off", old: handoffDB,
			stale: "AC030 handoffs{d->b}; AC031 handoffs{d->b}; AC033 handoffs.chain{from=d}"},
		{name: "reorder hand-offs", old: handoffAB + handoffDB, new: handoffDB + handoffCA + handoffAB},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(editedPolicy, tc.old, tc.new, 1)
			if tc.name == "reorder hand-offs" {
				src = strings.Replace(src, "\t{from: \"b\", to: \"c\", mode: \"forward_credentials\"},\n"+handoffCA,
					"\t{from: \"b\", to: \"c\", mode: \"forward_credentials\"},\n", 1)
			}
			if src == editedPolicy {
				t.Fatal("edit did not apply")
			}
			fs := lintSource(t, src)
			var stale, added []string
			for _, e := range b.Apply(fs, lint.Checks()) {
				stale = append(stale, e.Check+" "+e.Subject)
			}
			for _, f := range fs {
				if !f.Suppressed() {
					added = append(added, f.Check.ID+" "+f.Subject)
				}
			}
			if got := strings.Join(stale, "; "); got != tc.stale {
				t.Errorf("stale = %q, want %q", got, tc.stale)
			}
			if got := strings.Join(added, "; "); got != tc.added {
				t.Errorf("new = %q, want %q", got, tc.added)
			}
		})
	}
}

// TestBaselineVersion1 reads a version 1 baseline (entries keyed by element path): it still
// matches the findings of the unchanged policy and says how to rewrite it.
func TestBaselineVersion1(t *testing.T) {
	fs := lintSource(t, baselinePolicy)
	var entries []string
	for _, f := range fs {
		entries = append(entries, `{"check": "`+f.Check.ID+`", "element": "`+f.Element+`", "fingerprint": "0000000000000000"}`)
	}
	path := filepath.Join(t.TempDir(), "old.json")
	if err := os.WriteFile(path, []byte(`{"schema_version": 1, "findings": [`+strings.Join(entries, ",")+`]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := lint.ReadBaseline(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.Notice, "schema_version 1") || !strings.Contains(b.Notice, "--write-baseline "+path) {
		t.Errorf("notice = %q", b.Notice)
	}
	if stale := b.Apply(fs, lint.Checks()); len(stale) != 0 {
		t.Errorf("stale = %+v", stale)
	}
	for _, f := range fs {
		if !f.Suppressed() {
			t.Errorf("not matched: %s %s", f.Check.ID, f.Element)
		}
	}
}

func TestFingerprintIsFNV(t *testing.T) {
	h := fnv.New64a()
	h.Write([]byte("AC010\x00agents.a.grants{tool=crm actions=*}"))
	if got, want := lint.Fingerprint("AC010", "agents.a.grants{tool=crm actions=*}"), fmt.Sprintf("%016x", h.Sum64()); got != want {
		t.Errorf("Fingerprint = %s, want FNV-1a %s", got, want)
	}
}

func TestFingerprintIgnoresPosition(t *testing.T) {
	fs := lintSource(t, editedPolicy)
	seen := map[string]string{}
	for _, f := range fs {
		if strings.ContainsAny(f.Subject, "[]") {
			t.Errorf("%s subject %q holds a list index", f.Check.ID, f.Subject)
		}
		if f.Fingerprint != lint.Fingerprint(f.Check.ID, f.Subject) || len(f.Fingerprint) != 16 {
			t.Errorf("%s %s: fingerprint %q", f.Check.ID, f.Subject, f.Fingerprint)
		}
		if prev, ok := seen[f.Fingerprint]; ok {
			t.Errorf("%s %s shares a fingerprint with %s", f.Check.ID, f.Subject, prev)
		}
		seen[f.Fingerprint] = f.Check.ID + " " + f.Subject
	}
}

// TestBaselineDirs: version 3 entries are scoped by policy directory. An entry of staging
// never suppresses the same finding in prod; linting one directory leaves the others'
// entries alone (never stale); rewriting one directory keeps the others' entries.
func TestBaselineDirs(t *testing.T) {
	fs := func() []lint.Finding { return lintSource(t, baselinePolicy) }
	staging := lint.NewBaseline([]lint.DirFindings{{Dir: "policies/staging", Findings: fs()}}, nil)
	n := len(staging.Findings)
	if n == 0 || staging.Findings[0].Dir != "policies/staging" {
		t.Fatalf("entries %+v, want entries of policies/staging", staging.Findings)
	}

	prod := lint.DirFindings{Dir: "policies/prod", Findings: fs(), Ran: lint.Checks()}
	if stale := staging.ApplyDirs([]lint.DirFindings{prod}); len(stale) != 0 {
		t.Errorf("linting prod reported staging's entries as stale: %+v", stale)
	}
	for _, f := range prod.Findings {
		if f.Suppressed() {
			t.Errorf("staging's baseline suppressed %s %s in prod", f.Check.ID, f.Subject)
		}
	}
	st := lint.DirFindings{Dir: "policies/staging", Findings: fs(), Ran: lint.Checks()}
	if stale := staging.ApplyDirs([]lint.DirFindings{st}); len(stale) != 0 {
		t.Errorf("stale in staging: %+v", stale)
	}
	for _, f := range st.Findings {
		if !f.Suppressed() {
			t.Errorf("not baselined in staging: %s %s", f.Check.ID, f.Subject)
		}
	}
	fixed := lint.DirFindings{Dir: "policies/staging", Ran: lint.Checks()}
	if stale := staging.ApplyDirs([]lint.DirFindings{fixed}); len(stale) != n {
		t.Errorf("%d stale entries after staging was fixed, want %d", len(stale), n)
	}

	both := lint.NewBaseline([]lint.DirFindings{{Dir: "policies/prod", Findings: fs()}}, staging)
	if len(both.Findings) != 2*n || both.Findings[0].Dir != "policies/prod" || both.Findings[n].Dir != "policies/staging" {
		t.Errorf("rewriting prod: %d entries (want %d), sorted by directory: %+v", len(both.Findings), 2*n, both.Findings)
	}
	again := lint.NewBaseline([]lint.DirFindings{{Dir: "policies/staging"}}, both)
	if len(again.Findings) != n || again.Findings[0].Dir != "policies/prod" {
		t.Errorf("rewriting a fixed staging: %+v, want prod's entries only", again.Findings)
	}
}

// TestBaselineVersion2 reads a version 2 baseline (no directories): its entries match in
// every directory, and the notice says how to rewrite it.
func TestBaselineVersion2(t *testing.T) {
	fs := lintSource(t, baselinePolicy)
	var entries []string
	for _, f := range fs {
		entries = append(entries, `{"check": "`+f.Check.ID+`", "element": "`+f.Element+`", "fingerprint": "`+f.Fingerprint+`"}`)
	}
	path := filepath.Join(t.TempDir(), "v2.json")
	if err := os.WriteFile(path, []byte(`{"schema_version": 2, "findings": [`+strings.Join(entries, ",")+`]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := lint.ReadBaseline(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.Notice, "schema_version 2") || !strings.Contains(b.Notice, "--write-baseline "+path) {
		t.Errorf("notice = %q", b.Notice)
	}
	d := lint.DirFindings{Dir: "anywhere", Findings: fs, Ran: lint.Checks()}
	if stale := b.ApplyDirs([]lint.DirFindings{d}); len(stale) != 0 {
		t.Errorf("stale = %+v", stale)
	}
	for _, f := range d.Findings {
		if !f.Suppressed() {
			t.Errorf("not baselined: %s %s", f.Check.ID, f.Subject)
		}
	}
}

func TestReadBaselineMissing(t *testing.T) {
	_, err := lint.ReadBaseline(filepath.Join(t.TempDir(), "none.json"))
	if !errors.Is(err, lint.ErrNoBaseline) {
		t.Errorf("err = %v, want ErrNoBaseline", err)
	}
}
