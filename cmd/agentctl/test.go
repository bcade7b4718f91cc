package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/report"
)

// testFormats are the output formats of test.
var testFormats = []string{"table", "json", "junit"}

func newTestCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "test [DIR...] [-o table|json|junit]",
		Short: "Run the policy's request-level tests against the Go reference and the compiled Rego",
		Long: `Test decides every entry of the policy's tests block twice: with the Go reference
decision and with the compiled OPA bundle, evaluated in-process. A test passes when both
engines return the same decision and it meets the expectation: the outcome and, when
expect.code is given, a reason carrying that code. Inputs without "now" are decided at
2026-01-01T00:00:00Z, so results do not depend on the day.

Exit status: 0 all tests pass, 1 a test failed or the engines disagree, 2 bad input.`,
		Example: "  agentctl test\n  agentctl test ./... -o junit > tests.xml",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(output, testFormats...); err != nil {
				return inputError(err)
			}
			dirs, err := policyDirs(cmd.ErrOrStderr(), args)
			if err != nil {
				return err
			}
			policies, err := loadAll(cmd, dirs)
			if err != nil {
				return err
			}
			var runs []report.TestRun
			failed := false
			for i, p := range policies {
				run, err := runTests(dirs[i], p)
				if err != nil {
					return err
				}
				failed = failed || testsFailed(run)
				runs = append(runs, run)
			}
			if err := renderTests(cmd.OutOrStdout(), output, runs); err != nil {
				return err
			}
			if failed {
				return errPolicyFailed
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: "+wordList(testFormats, "or"))
	return cmd
}

func runTests(dir string, p *policy.Policy) (report.TestRun, error) {
	b, err := compile.Bundle(p)
	if err != nil {
		return report.TestRun{}, fmt.Errorf("compile %s: %w", dir, err)
	}
	results, err := compile.RunTests(context.Background(), p, b)
	if err != nil {
		return report.TestRun{}, fmt.Errorf("test %s: %w", dir, err)
	}
	return report.TestRun{Policy: dir, Results: results}, nil
}

func testsFailed(run report.TestRun) bool {
	for _, r := range run.Results {
		if !r.Passed {
			return true
		}
	}
	return false
}

func renderTests(w io.Writer, output string, runs []report.TestRun) error {
	var err error
	switch output {
	case "json":
		err = report.TestsJSON(w, runs)
	case "junit":
		err = report.TestsJUnit(w, runs)
	default:
		err = report.TestsTable(w, runs, isTerminal(w))
	}
	if err != nil {
		return fmt.Errorf("write test %s output: %w", output, err)
	}
	return nil
}
