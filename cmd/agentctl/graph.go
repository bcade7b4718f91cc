package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/report"
	"github.com/agentctl/agentctl/simulate"
)

// graphBound is the largest graph drawn whole (defaults: 100 agents, 150 hand-offs).
// Graphviz's time grows steeply with hand-offs (measured with dot 2.43: 50 agents with 100
// random hand-offs 0.06 s, 150 1.1 s, 200 3.2 s, 300 22 s; a fully connected 25-agent graph
// 26 s), and long before that nobody can read the drawing. The scenario views of the
// generated 1,000- and 10,000-agent estates (35-70 agents, 34-73 hand-offs) fit.
type graphBound struct {
	nodes, edges int // 0: no bound
}

func (b graphBound) fits(g *simulate.Graph) bool {
	return (b.nodes == 0 || len(g.Agents) <= b.nodes) && (b.edges == 0 || len(g.Edges) <= b.edges)
}

func (b graphBound) String() string {
	return fmt.Sprintf("--max-nodes %d, --max-edges %d", b.nodes, b.edges)
}

func graphSize(g *simulate.Graph) string {
	return plural(len(g.Agents), "agent") + " and " + plural(len(g.Edges), "hand-off")
}

func newGraphCmd() *cobra.Command {
	var (
		output, scenario string
		bound            graphBound
		timeout          time.Duration
	)
	cmd := &cobra.Command{
		Use:   "graph [DIR]",
		Short: "Draw the hand-off graph (DOT, Mermaid or SVG), optionally for a scenario",
		Long: `Graph draws the policy's agents as nodes and its hand-offs as edges labelled with their mode.
It takes one policy directory (default .); a DIR/... pattern is refused: name one of the
directories it matches.

With --scenario the graph shows the policy after the scenario's what-if (removed hand-offs
dashed and grey, overridden modes, hijacked agents outlined in red), the start agent with a
double border, escalation witness hand-offs in red, exfiltration witness hand-offs in purple,
and every agent that gains capabilities beyond the originator's authority filled and listing
them.

Output formats: dot (default, Graphviz), mermaid (paste into Markdown on GitHub or GitLab),
svg (runs Graphviz's dot, which must be installed; stopped after --timeout).

A graph with more than --max-nodes agents or --max-edges hand-offs cannot be read (and
Graphviz may take minutes to lay it out). Such a graph is drawn as a scenario view instead:
the scenario's start agent, its hijacked agents and its escalation and exfiltration witness
chains, for the --scenario given or else the policy's first scenario by name; a note on
stderr says so. When even that view is too large, or the policy has no scenario, graph
exits 2. 0 lifts a limit.`,
		Example: `  agentctl graph scenarios/support-refunds | dot -Tpng > handoffs.png
  agentctl graph scenarios/support-refunds --scenario fraud-review-hijacked -o mermaid
  agentctl graph scenarios/support-refunds --scenario refund-request -o svg > refund.svg
  agentctl graph estate --max-nodes 200 --max-edges 400 --timeout 2m -o svg > estate.svg`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			render := map[string]func(io.Writer, *simulate.Graph) error{
				"dot":     report.GraphDOT,
				"mermaid": report.GraphMermaid,
				"svg": func(w io.Writer, g *simulate.Graph) error {
					ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
					defer cancel()
					return report.GraphSVG(ctx, w, g)
				},
			}[output]
			if render == nil {
				return inputError(fmt.Errorf("unknown output format %q (want dot, mermaid or svg)", output))
			}
			if bound.nodes < 0 || bound.edges < 0 {
				return inputError(fmt.Errorf("--max-nodes and --max-edges must be 0 (no limit) or more"))
			}
			if timeout <= 0 {
				return inputError(fmt.Errorf("--timeout must be positive, got %s", timeout))
			}
			dir, err := policyDir(cmd, args)
			if err != nil {
				return err
			}
			p, err := loadOne(cmd, dir)
			if err != nil {
				return err
			}
			var sc *policy.Scenario
			if scenario != "" {
				s, err := simulateFlags{scenario: scenario}.selected(dir, p)
				if err != nil {
					return inputError(err)
				}
				sc = s[0]
			}
			g, err := drawableGraph(cmd.ErrOrStderr(), dir, p, sc, bound)
			if err != nil {
				return err
			}
			if err := render(cmd.OutOrStdout(), g); err != nil {
				switch {
				case errors.Is(err, report.ErrNoGraphviz):
					return inputError(err)
				case errors.Is(err, context.DeadlineExceeded):
					return inputError(fmt.Errorf("dot -Tsvg did not finish within %s (%s): draw less with --scenario or lower --max-nodes/--max-edges, or allow more time with --timeout",
						timeout, graphSize(g)))
				}
				return fmt.Errorf("write graph: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "dot", "output format: dot, mermaid or svg")
	cmd.Flags().StringVar(&scenario, "scenario", "", "highlight this scenario's escalation and exfiltration witnesses")
	cmd.Flags().IntVar(&bound.nodes, "max-nodes", 100, "most agents drawn before the graph is reduced to a scenario view (0: no limit)")
	cmd.Flags().IntVar(&bound.edges, "max-edges", 150, "most hand-offs drawn before the graph is reduced to a scenario view (0: no limit)")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "longest Graphviz may take for -o svg")
	return cmd
}

// drawableGraph returns the graph of p (for sc, if set), or its scenario view when it is
// beyond bound, with a note on stderr; an error when nothing fits.
func drawableGraph(stderr io.Writer, dir string, p *policy.Policy, sc *policy.Scenario, bound graphBound) (*simulate.Graph, error) {
	g, err := simulate.NewGraph(p, sc)
	if err != nil {
		return nil, inputError(fmt.Errorf("%s: %w", dir, err))
	}
	if bound.fits(g) {
		return g, nil
	}
	what := dir
	if sc != nil {
		what = fmt.Sprintf("%s: scenario %q", dir, sc.Name)
	}
	tooLarge := fmt.Sprintf("%s: %s are too many to draw legibly (%s)", what, graphSize(g), bound)
	choose := "raise --max-nodes and --max-edges (0: no limit) to draw all of it"
	if sc == nil {
		if len(p.Scenarios) == 0 {
			return nil, inputError(fmt.Errorf("%s: add a scenario and draw its view with --scenario NAME, or raise --max-nodes and --max-edges (0: no limit)", tooLarge))
		}
		var names []string
		for _, s := range p.Scenarios {
			names = append(names, s.Name)
		}
		sc = p.Scenarios[0]
		choose = fmt.Sprintf("choose the scenario with --scenario (scenarios: %s), or raise --max-nodes and --max-edges (0: no limit)", quotedList(names))
		if g, err = simulate.NewGraph(p, sc); err != nil {
			return nil, inputError(fmt.Errorf("%s: %w", dir, err))
		}
	}
	w := g.Witnesses()
	if !bound.fits(w) {
		return nil, inputError(fmt.Errorf("%s; the view of scenario %q (its start agent and witness chains) still has %s: raise --max-nodes and --max-edges (0: no limit)",
			tooLarge, sc.Name, graphSize(w)))
	}
	fmt.Fprintf(stderr, "agentctl: %s\nagentctl: drawing scenario %q reduced to its start agent and witness chains: %s\nagentctl: %s\n",
		tooLarge, sc.Name, graphSize(w), choose)
	return w, nil
}
