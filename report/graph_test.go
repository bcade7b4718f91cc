package report

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/simulate"
)

// TestGraphExamplesRenderWithDot renders every example estate, plain and per scenario,
// through Graphviz's dot. It skips when dot is missing, and fails under AGENTCTL_REQUIRE_ALL=1.
func TestGraphExamplesRenderWithDot(t *testing.T) {
	testtool.Look(t, "dot")
	n := 0
	for _, ex := range testtool.Examples(t) {
		dir, p := ex.Dir, ex.Policy
		for _, sc := range append([]*policy.Scenario{nil}, p.Scenarios...) {
			g, err := simulate.NewGraph(p, sc)
			if err != nil {
				t.Fatalf("%s: %v", dir, err)
			}
			var svg bytes.Buffer
			if err := GraphSVG(context.Background(), &svg, g); err != nil {
				t.Fatalf("%s %v: %v", dir, sc != nil, err)
			}
			out := svg.String()
			if !strings.Contains(out, "<svg") || strings.Count(out, `class="node"`) != len(p.Agents) ||
				strings.Count(out, `class="edge"`) != len(g.Edges) {
				t.Fatalf("%s: dot output is not an SVG with %d nodes and %d edges", dir, len(p.Agents), len(g.Edges))
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no example estate found")
	}
}

// TestGraphSVGTimeout stops a dot that does not finish when the context ends, and writes
// nothing.
func TestGraphSVGTimeout(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "dot"), []byte("#!/bin/sh\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	start := time.Now()
	err := GraphSVG(ctx, &out, &simulate.Graph{Agents: []simulate.GraphAgent{{Name: "a"}}})
	if !errors.Is(err, context.DeadlineExceeded) || err.Error() != "dot -Tsvg: context deadline exceeded" {
		t.Fatalf("err = %v, want dot -Tsvg: context deadline exceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("GraphSVG returned after %s, long after its deadline", elapsed)
	}
	if out.Len() != 0 {
		t.Errorf("wrote %q", out.String())
	}
}

func TestGraphSVGWithoutDot(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := GraphSVG(context.Background(), &bytes.Buffer{}, &simulate.Graph{})
	if !errors.Is(err, ErrNoGraphviz) {
		t.Fatalf("err = %v, want ErrNoGraphviz", err)
	}
	if !strings.Contains(err.Error(), "apt-get install graphviz") {
		t.Errorf("error does not say how to install Graphviz: %v", err)
	}
}

// TestGraphDOTQuotes checks that labels are quoted DOT strings, whatever the text.
func TestGraphDOTQuotes(t *testing.T) {
	var b bytes.Buffer
	g := &simulate.Graph{Agents: []simulate.GraphAgent{{Name: `a"b`}}, Edges: []simulate.GraphEdge{{From: `a"b`, To: `a"b`, Mode: "delegate"}}}
	if err := GraphDOT(&b, g); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"a\"b" -> "a\"b" [label="delegate"];`) {
		t.Errorf("unquoted output:\n%s", b.String())
	}
}
