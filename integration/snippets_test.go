package integration

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"cuelang.org/go/cue/parser"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/schema"
)

// Marks on the line before a ```cue fence (blank lines between allowed): fragmentMark says
// the snippet is intentionally partial (it must parse as CUE but is not a policy on its own);
// invalidMark says it shows a mistake (it must parse, and the loader must reject it).
const (
	fragmentMark = "<!-- snippet: fragment -->"
	invalidMark  = "<!-- snippet: invalid -->"
)

// cueSnippet is one ```cue block of a documentation page.
type cueSnippet struct {
	page string // relative to the repository root
	line int    // of the body's first line, 1-based
	body string
	mark string // fragmentMark, invalidMark or ""
}

// cueSnippets returns every ```cue block of README.md and docs/*.md.
func cueSnippets(t *testing.T, root string) []cueSnippet {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages = append([]string{filepath.Join(root, "README.md")}, pages...)
	var out []cueSnippet
	for _, path := range pages {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, path)
		lines := strings.Split(string(src), "\n")
		blocks, err := parseBlocks(lines)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		for _, b := range blocks {
			if lang, _, _ := strings.Cut(b.lang, " "); lang != "cue" {
				continue
			}
			prev := b.start - 2 // the fence is at start-1
			for prev >= 0 && strings.TrimSpace(lines[prev]) == "" {
				prev--
			}
			mark := ""
			if prev >= 0 {
				if m := strings.TrimSpace(lines[prev]); m == fragmentMark || m == invalidMark {
					mark = m
				}
			}
			out = append(out, cueSnippet{page: filepath.ToSlash(rel), line: b.start + 1, body: b.body, mark: mark})
		}
	}
	return out
}

// TestDocSnippets holds every CUE snippet of the README and docs/ to what it shows: each
// parses as CUE; one marked `<!-- snippet: invalid -->` is rejected by the real loader; every
// other one not marked `<!-- snippet: fragment -->` is a complete policy that the loader
// accepts, and its tests pass on both engines (the Go reference and the compiled Rego), as
// `agentctl test` runs them.
func TestDocSnippets(t *testing.T) {
	root := repoRoot(t)
	snippets := cueSnippets(t, root)
	if len(snippets) < 10 {
		t.Fatalf("found %d cue snippets, want the README's tour, docs/policy.md's and docs/checks.md's", len(snippets))
	}
	complete := 0
	for _, s := range snippets {
		at := s.page + ":" + strconv.Itoa(s.line)
		if _, err := parser.ParseFile(at, s.body); err != nil {
			t.Errorf("%s: the cue snippet does not parse: %v", at, err)
			continue
		}
		if s.mark == fragmentMark {
			continue
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "policy.cue"), []byte(s.body), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := schema.Load(dir)
		if s.mark == invalidMark {
			if err == nil {
				t.Errorf("%s: the snippet marked %s loads without error", at, invalidMark)
			}
			continue
		}
		complete++
		if err != nil {
			t.Errorf("%s: the cue snippet is not a valid policy (mark it %s if it is partial on purpose):\n%v", at, fragmentMark, err)
			continue
		}
		b, err := compile.Bundle(p)
		if err != nil {
			t.Errorf("%s: compile: %v", at, err)
			continue
		}
		results, err := compile.RunTests(context.Background(), p, b)
		if err != nil {
			t.Errorf("%s: %v", at, err)
			continue
		}
		for _, r := range results {
			if !r.Passed {
				t.Errorf("%s: test %s: %s", at, r.Test.Name, r.Why)
			}
		}
	}
	if complete == 0 {
		t.Error("no complete policy snippet was checked")
	}
}

// TestReadmeCounts keeps the README's figures for the support-refunds example (the verdict
// line and the sentence after it) equal to what the example holds.
func TestReadmeCounts(t *testing.T) {
	root := repoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := schema.Load(filepath.Join(root, "scenarios", "support-refunds"))
	if err != nil {
		t.Fatal(err)
	}
	scen, tests := strconv.Itoa(len(p.Scenarios)), strconv.Itoa(len(p.Tests))
	verdict := regexp.MustCompile(`scenarios (\d+)/(\d+) passed · tests (\d+)/(\d+) passed`).FindStringSubmatch(string(readme))
	if verdict == nil {
		t.Fatal("README.md: no verdict line with scenario and test counts")
	}
	if got := verdict[1:]; !reflect.DeepEqual(got, []string{scen, scen, tests, tests}) {
		t.Errorf("README.md verdict says scenarios %s/%s, tests %s/%s; scenarios/support-refunds has %s scenarios and %s tests",
			got[0], got[1], got[2], got[3], scen, tests)
	}
	prose := regexp.MustCompile(`its (\d+) hand-off scenarios and (\d+) decision tests`).FindStringSubmatch(string(readme))
	if prose == nil {
		t.Fatal("README.md: no sentence counting the example's hand-off scenarios and decision tests")
	}
	if prose[1] != scen || prose[2] != tests {
		t.Errorf("README.md says %s hand-off scenarios and %s decision tests; scenarios/support-refunds has %s and %s", prose[1], prose[2], scen, tests)
	}
}

// TestRuntimeSample decides docs/runtime.md's sample request against the example it names
// (scenarios/support-refunds) on both engines and compares with the decision the page shows.
func TestRuntimeSample(t *testing.T) {
	root := repoRoot(t)
	src, err := os.ReadFile(filepath.Join(root, "docs", "runtime.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := parseBlocks(strings.Split(string(src), "\n"))
	if err != nil {
		t.Fatal(err)
	}
	var req, resp string
	for i, b := range blocks {
		if rest, ok := strings.CutPrefix(b.body, "POST /v1/data/agentctl/decision"); ok && i+1 < len(blocks) && blocks[i+1].lang == "json" {
			_, req, _ = strings.Cut(rest, "\n")
			resp = blocks[i+1].body
			break
		}
	}
	if req == "" {
		t.Fatal("docs/runtime.md: no POST /v1/data/agentctl/decision block followed by a ```json response")
	}
	var in struct {
		Input any `json:"input"`
	}
	if err := decodeNumbers(req, &in); err != nil {
		t.Fatalf("docs/runtime.md: the sample request is not JSON: %v\n%s", err, req)
	}
	var want any
	if err := decodeNumbers(resp, &want); err != nil {
		t.Fatalf("docs/runtime.md: the sample response is not JSON: %v\n%s", err, resp)
	}
	p, err := schema.Load(filepath.Join(root, "scenarios", "support-refunds"))
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := policy.Lookup(in.Input, "identity"); !declaresIdentity(p, id) {
		t.Errorf("docs/runtime.md: the sample identity %v is not declared by scenarios/support-refunds", id)
	}
	b, err := compile.Bundle(p)
	if err != nil {
		t.Fatal(err)
	}
	e, err := compile.NewEngine(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	env := policy.Env{Now: policy.TestClock}
	goDec := p.Decide(in.Input, env)
	regoDec, err := e.Decide(context.Background(), in.Input, env)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(goDec, regoDec) {
		t.Fatalf("engines disagree on the sample: Go %+v, Rego %+v", goDec, regoDec)
	}
	var got any
	raw, _ := json.Marshal(goDec)
	if err := decodeNumbers(string(raw), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("docs/runtime.md's sample response differs from the decision:\ngot:  %s\nwant: %s", raw, strings.TrimSpace(resp))
	}
}

func declaresIdentity(p *policy.Policy, id any) bool {
	for _, a := range p.Agents {
		if a.SpiffeID != "" && a.SpiffeID == id {
			return true
		}
	}
	return false
}

func decodeNumbers(s string, v any) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	return dec.Decode(v)
}
