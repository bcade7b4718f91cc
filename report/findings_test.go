package report

import (
	"bytes"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentctl/agentctl/internal/testtool"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestFindingsFormats pins every renderer's output for one set of findings.
func TestFindingsFormats(t *testing.T) {
	for _, tc := range []struct {
		name   string
		render func(*bytes.Buffer, Findings) error
	}{
		{"findings.table", func(b *bytes.Buffer, f Findings) error { return FindingsTable(b, f, nil, false) }},
		{"findings-frameworks.table", func(b *bytes.Buffer, f Findings) error {
			return FindingsTable(b, f, []string{"asi", "nist"}, false)
		}},
		{"findings.json", func(b *bytes.Buffer, f Findings) error { return FindingsJSON(b, f) }},
		{"findings.sarif", func(b *bytes.Buffer, f Findings) error { return SARIF(b, f) }},
		{"findings.junit.xml", func(b *bytes.Buffer, f Findings) error { return FindingsJUnit(b, f) }},
		{"findings.github", func(b *bytes.Buffer, f Findings) error { return GitHub(b, f) }},
		{"checks.md", func(b *bytes.Buffer, f Findings) error { return ChecksMarkdown(b, f.Rules) }},
		{"checks.table", func(b *bytes.Buffer, f Findings) error { return ChecksTable(b, f.Rules, []string{"maestro"}, false) }},
		{"checks.json", func(b *bytes.Buffer, f Findings) error { return ChecksJSON(b, f.Rules) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.render(&b, sampleFindings()); err != nil {
				t.Fatal(err)
			}
			goldenFile(t, tc.name, b.Bytes())
		})
	}
}

func TestSummaryLine(t *testing.T) {
	for _, tc := range []struct {
		s    Summary
		want string
	}{
		{Summary{}, "no findings"},
		{Summary{Suppressed: 2}, "no findings; 2 suppressed"},
		{Summary{Total: 1, Low: 1}, "1 finding: 1 low"},
		{Summary{Total: 4, Critical: 1, High: 2, Info: 1, Suppressed: 1}, "4 findings: 1 critical, 2 high, 1 info; 1 suppressed"},
	} {
		if got := SummaryLine(tc.s); got != tc.want {
			t.Errorf("SummaryLine(%+v) = %q, want %q", tc.s, got, tc.want)
		}
	}
}

func TestGitHubEscaping(t *testing.T) {
	var b bytes.Buffer
	f := Findings{Findings: []Finding{{Check: "AC010", Slug: "wildcard-grant", Severity: "medium",
		Message: "50% of a,b:\nnext", File: "dir,x/a:b.cue", Line: 2, Column: 3}}}
	if err := GitHub(&b, f); err != nil {
		t.Fatal(err)
	}
	want := "::warning file=dir%2Cx/a%3Ab.cue,line=2,col=3,title=AC010::medium: 50%25 of a,b:%0Anext (wildcard-grant)\n"
	if b.String() != want {
		t.Errorf("got %q\nwant %q", b.String(), want)
	}
}

func TestFindingsTableEscapesFileNames(t *testing.T) {
	var b bytes.Buffer
	f := Findings{Findings: []Finding{{Check: "AC051", Slug: "missing-owner", Severity: "low",
		Message: `agent "a" has no owner`, File: "pol/x\n\u202ey.cue", Line: 2, Column: 3}}}
	if err := FindingsTable(&b, f, nil, false); err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(b.String(), "\n"); first != `pol/x\n\u202ey.cue` {
		t.Errorf("file header = %q, want it escaped", first)
	}
}

func goldenFile(t *testing.T, name string, got []byte) {
	t.Helper()
	testtool.Golden(t, filepath.Join("testdata", name), got, *update)
}
