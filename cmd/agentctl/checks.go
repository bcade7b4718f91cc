package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/lint"
	"github.com/agentctl/agentctl/report"
)

func newChecksCmd() *cobra.Command {
	var output string
	var frameworks []string
	cmd := &cobra.Command{
		Use:   "checks [ID|SLUG...]",
		Short: "List the lint check catalogue",
		Long: `Checks prints the lint catalogue: each check's ID, slug, severity (for risk_tier high and,
after the slash, low), title and framework references. Name checks to list only those.

Output formats: table (default; --framework adds reference columns), json (every field,
including rationale, remediation, example and fix) and markdown (docs/checks.md is this
output).`,
		Example: "  agentctl checks\n  agentctl checks --framework asi,nist\n  agentctl checks AC034 -o markdown",
		RunE: func(cmd *cobra.Command, args []string) error {
			checks, err := lint.Select(args, nil)
			if err != nil {
				return inputError(err)
			}
			var fws []string
			for _, fw := range frameworks {
				name, err := frameworkName(fw)
				if err != nil {
					return inputError(err)
				}
				fws = append(fws, name)
			}
			rules := report.LintRules(checks)
			w := cmd.OutOrStdout()
			switch output {
			case "table":
				err = report.ChecksTable(w, rules, fws, isTerminal(w))
			case "json":
				err = report.ChecksJSON(w, rules)
			case "markdown":
				err = report.ChecksMarkdown(w, rules)
			default:
				return inputError(fmt.Errorf("unknown output format %q (want table, json or markdown)", output))
			}
			if err != nil {
				return fmt.Errorf("write %s output: %w", output, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or markdown")
	cmd.Flags().StringSliceVar(&frameworks, "framework", nil, "add reference columns to the table: asi, nhi, maestro, nist")
	return cmd
}
