package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/internal/gen"
)

// newGenCmd is a hidden developer command: it writes a synthetic estate for benchmarks.
func newGenCmd() *cobra.Command {
	var opts gen.Options
	cmd := &cobra.Command{
		Use:   "gen [--agents N] [--seed S] DIR",
		Short: "Write a synthetic estate (for tests and benchmarks)",
		Long: `Write a deterministic synthetic estate to DIR/estate.cue: N agents, about N/2 tools,
2-6 grants and 1-5 hand-offs per agent, a few approvals and scenarios. The same seed gives
the same bytes. The estate is deliberately imperfect so that every lint check finds something.`,
		Example: "  agentctl gen --agents 1000 --seed 1 /tmp/estate-1k",
		Hidden:  true,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Agents < 1 {
				return inputError(fmt.Errorf("--agents must be at least 1, got %d", opts.Agents))
			}
			if err := onePolicyDir("gen", args[0]); err != nil {
				return err
			}
			if err := gen.WriteDir(args[0], opts); err != nil {
				return inputError(err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: %d agents, %d tools\n",
				filepath.Join(args[0], gen.FileName), opts.Agents, opts.Tools())
			return nil
		},
	}
	cmd.Flags().IntVar(&opts.Agents, "agents", 100, "number of agents")
	cmd.Flags().Uint64Var(&opts.Seed, "seed", 1, "random seed")
	return cmd
}
