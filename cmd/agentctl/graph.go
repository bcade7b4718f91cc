package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/report"
	"github.com/agentctl/agentctl/simulate"
)

func newGraphCmd() *cobra.Command {
	var output, scenario string
	cmd := &cobra.Command{
		Use:   "graph [DIR]",
		Short: "Draw the hand-off graph (DOT, Mermaid or SVG), optionally for a scenario",
		Long: `Graph draws the policy's agents as nodes and its hand-offs as edges labelled with their mode.

With --scenario the graph shows the policy after the scenario's what-if (removed hand-offs
dashed and grey, overridden modes, hijacked agents outlined in red), the start agent with a
double border, escalation witness hand-offs in red, exfiltration witness hand-offs in purple,
and every agent that gains capabilities beyond the originator's authority filled and listing
them.

Output formats: dot (default, Graphviz), mermaid (paste into Markdown on GitHub or GitLab),
svg (runs Graphviz's dot, which must be installed).`,
		Example: `  agentctl graph scenarios/support-refunds | dot -Tpng > handoffs.png
  agentctl graph scenarios/support-refunds --scenario fraud-review-hijacked -o mermaid
  agentctl graph scenarios/support-refunds --scenario refund-request -o svg > refund.svg`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			render := map[string]func(io.Writer, *simulate.Graph) error{
				"dot":     report.GraphDOT,
				"mermaid": report.GraphMermaid,
				"svg":     report.GraphSVG,
			}[output]
			if render == nil {
				return inputError(fmt.Errorf("unknown output format %q (want dot, mermaid or svg)", output))
			}
			dirs := dirsOrDot(args)
			policies, err := loadAll(cmd.ErrOrStderr(), dirs)
			if err != nil {
				return err
			}
			p := policies[0]
			var sc *policy.Scenario
			if scenario != "" {
				s, err := simulateFlags{scenario: scenario}.selected(dirs[0], p)
				if err != nil {
					return inputError(err)
				}
				sc = s[0]
			}
			g, err := simulate.NewGraph(p, sc)
			if err != nil {
				return inputError(fmt.Errorf("%s: %w", dirs[0], err))
			}
			if err := render(cmd.OutOrStdout(), g); err != nil {
				if errors.Is(err, report.ErrNoGraphviz) {
					return inputError(err)
				}
				return fmt.Errorf("write graph: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "dot", "output format: dot, mermaid or svg")
	cmd.Flags().StringVar(&scenario, "scenario", "", "highlight this scenario's escalation and exfiltration witnesses")
	return cmd
}
