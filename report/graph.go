package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/agentctl/agentctl/simulate"
)

// Colours of the graph highlights: escalation witnesses red, exfiltration witnesses purple.
const (
	graphEscalation   = "#d62728"
	graphExfiltration = "#9467bd"
	graphGainedFill   = "#fde2e2"
	graphStartFill    = "#e3f2fd"
)

// graphLabel is a node's text: its name, then what the scenario says about it.
func graphLabel(a simulate.GraphAgent) []string {
	lines := []string{a.Name}
	var tags []string
	if a.Start {
		tags = append(tags, "start")
	}
	if a.Compromised {
		tags = append(tags, "compromised")
	}
	if a.Untrusted {
		tags = append(tags, "untrusted input")
	}
	if a.Egress {
		tags = append(tags, "exfiltration egress")
	}
	if len(tags) > 0 {
		lines = append(lines, "("+strings.Join(tags, ", ")+")")
	}
	for _, c := range a.Gained {
		lines = append(lines, "+ "+c)
	}
	return lines
}

func edgeLabel(e simulate.GraphEdge) string {
	if e.Removed {
		return e.Mode + " (removed)"
	}
	return e.Mode
}

// GraphDOT writes g in Graphviz DOT. Agents that gain capabilities are filled and list them;
// escalation and exfiltration witness hand-offs are drawn bold in colour.
func GraphDOT(w io.Writer, g *simulate.Graph) error {
	var b bytes.Buffer
	name := "agentctl"
	if g.Scenario != "" {
		name = "agentctl scenario " + g.Scenario
	}
	fmt.Fprintf(&b, "digraph %s {\n", strconv.Quote(name))
	b.WriteString("  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n")
	for _, a := range g.Agents {
		attrs := []string{"label=" + strconv.Quote(strings.Join(graphLabel(a), "\n"))}
		switch {
		case len(a.Gained) > 0:
			attrs = append(attrs, `style="rounded,filled"`, "fillcolor="+strconv.Quote(graphGainedFill))
		case a.Start:
			attrs = append(attrs, `style="rounded,filled"`, "fillcolor="+strconv.Quote(graphStartFill))
		}
		if a.Start {
			attrs = append(attrs, "peripheries=2")
		}
		if a.Compromised {
			attrs = append(attrs, "color="+strconv.Quote(graphEscalation), "penwidth=2")
		}
		fmt.Fprintf(&b, "  %s [%s];\n", strconv.Quote(a.Name), strings.Join(attrs, ", "))
	}
	for _, e := range g.Edges {
		attrs := []string{"label=" + strconv.Quote(edgeLabel(e))}
		switch {
		case e.Removed:
			attrs = append(attrs, "style=dashed", `color="gray"`, `fontcolor="gray"`)
		case e.Escalation && e.Exfiltration:
			attrs = append(attrs, "color="+strconv.Quote(graphEscalation+":"+graphExfiltration), "penwidth=2")
		case e.Escalation:
			attrs = append(attrs, "color="+strconv.Quote(graphEscalation), "penwidth=2")
		case e.Exfiltration:
			attrs = append(attrs, "color="+strconv.Quote(graphExfiltration), "penwidth=2")
		}
		fmt.Fprintf(&b, "  %s -> %s [%s];\n", strconv.Quote(e.From), strconv.Quote(e.To), strings.Join(attrs, ", "))
	}
	b.WriteString("}\n")
	_, err := w.Write(b.Bytes())
	return err
}

// GraphMermaid writes g as a Mermaid flowchart, with the same highlights as GraphDOT.
func GraphMermaid(w io.Writer, g *simulate.Graph) error {
	var b bytes.Buffer
	b.WriteString("flowchart LR\n")
	ids := map[string]string{}
	for i, a := range g.Agents {
		// Node ids are generated: agent names may contain '-', which Mermaid reads as an edge.
		id := "a" + strconv.Itoa(i)
		ids[a.Name] = id
		class := ""
		switch {
		case a.Compromised:
			class = ":::compromised"
		case len(a.Gained) > 0:
			class = ":::gained"
		case a.Start:
			class = ":::start"
		}
		fmt.Fprintf(&b, "  %s[\"%s\"]%s\n", id, strings.Join(graphLabel(a), "<br/>"), class)
	}
	var styles []string
	for i, e := range g.Edges {
		arrow := fmt.Sprintf("-- %s -->", edgeLabel(e))
		if e.Removed {
			arrow = fmt.Sprintf("-. %s .->", edgeLabel(e))
		}
		fmt.Fprintf(&b, "  %s %s %s\n", ids[e.From], arrow, ids[e.To])
		switch {
		case e.Escalation:
			styles = append(styles, fmt.Sprintf("  linkStyle %d stroke:%s,stroke-width:3px", i, graphEscalation))
		case e.Exfiltration:
			styles = append(styles, fmt.Sprintf("  linkStyle %d stroke:%s,stroke-width:3px", i, graphExfiltration))
		case e.Removed:
			styles = append(styles, fmt.Sprintf("  linkStyle %d stroke:gray", i))
		}
	}
	for _, s := range styles {
		b.WriteString(s + "\n")
	}
	fmt.Fprintf(&b, "  classDef gained fill:%s,stroke:%s\n", graphGainedFill, graphEscalation)
	fmt.Fprintf(&b, "  classDef start fill:%s\n", graphStartFill)
	fmt.Fprintf(&b, "  classDef compromised fill:%s,stroke:%s,stroke-width:3px\n", graphGainedFill, graphEscalation)
	_, err := w.Write(b.Bytes())
	return err
}

// ErrNoGraphviz means the dot program needed for SVG output is not installed.
var ErrNoGraphviz = errors.New("-o svg needs Graphviz's dot program, which is not on PATH: install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz) or use -o dot and render it elsewhere")

// GraphSVG renders g to SVG with Graphviz's dot, which is stopped when ctx ends (dot can
// take minutes on a dense graph): the error then wraps ctx.Err(). Nothing is written to w
// unless dot succeeds.
func GraphSVG(ctx context.Context, w io.Writer, g *simulate.Graph) error {
	dot, err := exec.LookPath("dot")
	if err != nil {
		return ErrNoGraphviz
	}
	var in, out, stderr bytes.Buffer
	if err := GraphDOT(&in, g); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, dot, "-Tsvg")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = &in, &out, &stderr
	// A killed dot's children could hold the pipes open; do not wait for them.
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("dot -Tsvg: %w", ctx.Err())
		}
		return fmt.Errorf("dot -Tsvg: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	_, err = w.Write(out.Bytes())
	return err
}
