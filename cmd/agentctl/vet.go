package main

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/schema"
)

func newVetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "vet [DIR...]",
		Short: "Load and validate policy directories",
		Long: `Vet loads every .cue file of each policy directory, unifies it with the agentctl schema
and checks every reference to agents, tools, actions and capabilities.

All problems are reported at once, as file:line:col: message, and the exit status is 2.
On success vet prints one summary line per directory. When the directory holds a schema
copy for cue tooling (` + schema.CopyName + `, written by agentctl init) that differs from
this agentctl's schema, vet says so on stderr and how to refresh it.`,
		Example: "  agentctl vet\n  agentctl vet ./...\n  agentctl vet scenarios/support-refunds scenarios/secure-baseline",
		RunE: func(cmd *cobra.Command, args []string) error {
			dirs, err := policyDirs(cmd.ErrOrStderr(), args)
			if err != nil {
				return err
			}
			policies, err := loadAll(cmd, dirs)
			if err != nil {
				return err
			}
			for i, p := range policies {
				fmt.Fprintln(cmd.OutOrStdout(), summary(dirs[i], p))
				if path, err := schema.StaleCopy(dirs[i]); err != nil {
					return inputError(err)
				} else if path != "" {
					fmt.Fprintf(cmd.ErrOrStderr(), "agentctl: %s is older than this agentctl's schema (revision %s), so cue tooling checks the policy against an outdated schema; refresh it with: agentctl init --schema %s\n",
						path, schema.Revision(), dirs[i])
				}
			}
			return nil
		},
	}
}

// loadAll loads every directory within its evaluation budget (evalTimeouts); on any failure
// it prints all load errors of all directories to stderr (loadEach) and returns
// errInputPrinted, so no partial output is written.
func loadAll(cmd *cobra.Command, dirs []string) ([]*policy.Policy, error) {
	return loadAs(cmd, dirs, dirs)
}

// loadOne is loadAll for a command that takes one policy directory.
func loadOne(cmd *cobra.Command, dir string) (*policy.Policy, error) {
	policies, err := loadAll(cmd, []string{dir})
	if err != nil {
		return nil, err
	}
	return policies[0], nil
}

// loadAs is loadAll with the settings of settingsDirs, by directory: a copy of a policy
// directory at a git revision has the settings of the directory it copies.
func loadAs(cmd *cobra.Command, dirs, settingsDirs []string) ([]*policy.Policy, error) {
	timeouts, err := evalTimeouts(cmd, settingsDirs)
	if err != nil {
		return nil, err
	}
	policies, _, err := loadEach(cmd.ErrOrStderr(), dirs, timeouts)
	if err != nil {
		return nil, err
	}
	if slices.Contains(policies, nil) {
		return nil, errInputPrinted
	}
	return policies, nil
}

func summary(dir string, p *policy.Policy) string {
	return fmt.Sprintf("%s: ok: %s, %s, %s, %s, %s, %s", dir,
		plural(len(p.Agents), "agent"), plural(len(p.Tools), "tool"), plural(len(p.Handoffs), "hand-off"),
		plural(len(p.Approvals), "approval"), plural(len(p.Scenarios), "scenario"), plural(len(p.Tests), "test"))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
