package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/lint"
	"github.com/agentctl/agentctl/policy"
)

func newCheckCmd() *cobra.Command {
	var failOn string
	cmd := &cobra.Command{
		Use:   "check [DIR...]",
		Short: "Run every gate on policy directories: vet, lint, simulate and test",
		Long: `Check is the one command CI runs. For each policy directory it loads and validates the
policy (vet), lints it (findings at or above --fail-on fail), runs its scenarios (failed
expectations fail) and its request-level tests against both decision engines.

Exit status: 0 pass, 1 the policy failed a gate, 2 a policy could not be loaded.`,
		Example: "  agentctl check\n  agentctl check scenarios/support-refunds",
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := lint.ParseSeverity(failOn); err != nil {
				return inputError(fmt.Errorf("--fail-on: %w", err))
			}
			dirs := dirsOrDot(args)
			policies, err := loadAll(cmd.ErrOrStderr(), dirs)
			if err != nil {
				return err
			}
			failed := false
			for i, p := range policies {
				fmt.Fprintln(cmd.OutOrStdout(), summary(dirs[i], p))
				lintStage := func(cmd *cobra.Command, p *policy.Policy) (bool, error) { return lintForCheck(cmd, p, failOn) }
				for _, stage := range []func(*cobra.Command, *policy.Policy) (bool, error){
					lintStage, simulateForCheck, testForCheck,
				} {
					f, err := stage(cmd, p)
					if err != nil {
						return err
					}
					failed = failed || f
				}
			}
			if failed {
				return errPolicyFailed
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&failOn, "fail-on", "high", "fail (exit 1) on active lint findings at or above: critical, high, medium, low or info")
	return cmd
}
