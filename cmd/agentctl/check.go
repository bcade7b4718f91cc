package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/policy"
)

func newCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check [DIR...]",
		Short: "Run every gate on policy directories: vet, lint, simulate and test",
		Long: `Check is the one command CI runs. For each policy directory it loads and validates the
policy (vet), lints it (findings at or above high fail), runs its scenarios (failed
expectations fail) and its request-level tests against both decision engines.

Exit status: 0 pass, 1 the policy failed a gate, 2 a policy could not be loaded.`,
		Example: "  agentctl check\n  agentctl check scenarios/support-refunds",
		RunE: func(cmd *cobra.Command, args []string) error {
			dirs := dirsOrDot(args)
			policies, err := loadAll(cmd.ErrOrStderr(), dirs)
			if err != nil {
				return err
			}
			failed := false
			for i, p := range policies {
				fmt.Fprintln(cmd.OutOrStdout(), summary(dirs[i], p))
				for _, stage := range []func(*cobra.Command, *policy.Policy) (bool, error){
					lintForCheck, simulateForCheck, testForCheck,
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
}
