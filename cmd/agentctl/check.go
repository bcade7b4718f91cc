package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/gate"
	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/report"
	"github.com/agentctl/agentctl/simulate"
)

func newCheckCmd() *cobra.Command {
	var (
		f       gateFlags
		elapsed bool
	)
	cmd := &cobra.Command{
		Use:   "check [DIR...]",
		Short: "Run every gate on policy directories: vet, lint, simulate and test",
		Long: `Check is the one command CI runs. For each policy directory it loads and validates the
policy (vet), lints it (active findings at or above --fail-on fail), runs its scenarios
(failed expectations fail) and its request-level tests against both decision engines. A
directory that does not load is reported and the others are still checked. DIR/... is
every policy directory under DIR (skipping testdata, vendor, node_modules and hidden
directories); files among the arguments that are not .cue files are skipped with a note.

It ends with one verdict line naming what failed and why, the failed gates first, e.g.
  FAIL  scenarios 4/5 passed · lint: 2 findings, all below high (2 medium) · tests 17/17 passed · 0.31s
It goes to stdout, or to stderr when stdout carries a document (-o json, sarif or junit).

Settings come from the repository configuration (.agentctl.yaml, the nearest one up to the
repository root, or --config; see 'agentctl config'); flags override it. Outputs: repeat -o,
a format alone goes to stdout and FORMAT=FILE to a file:
  table    tables of findings, scenarios and tests (default)
  json     one document with vet, lint, simulate and test sections and schema_version
  sarif    lint findings, failed scenarios (scenario-failed) and tests (test-failed) and
           load errors, SARIF 2.1.0 for code scanning
  junit    one case per finding (only those at or above --fail-on fail), scenario, test
  github   workflow-command annotations for findings, failed scenarios and tests, load errors
  compact  one line per problem, file:line:col: severity ID message (like go vet)
SARIF, JUnit and GitHub locations are relative to the repository root (--root, default the
git top-level), whatever the working directory.

Exit status: 0 pass, 1 the policy failed a gate, 2 a policy could not be loaded or the
invocation is wrong.`,
		Example: `  agentctl check
  agentctl check ./...
  agentctl check scenarios/support-refunds
  agentctl check -o table -o sarif=agentctl.sarif -o junit=report.xml -o github policies/*
  agentctl check --baseline .agentctl-baseline.json --fail-on medium
  agentctl check -o json > check.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			dirs, err := policyDirs(cmd.ErrOrStderr(), args)
			if err != nil {
				return err
			}
			return runCheck(cmd, &f, dirs, elapsed)
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().StringVar(&f.color, "color", "auto", "colour the verdict: auto (on a terminal, unless NO_COLOR is set), always or never")
	cmd.Flags().BoolVar(&elapsed, "elapsed", true, "end the verdict with the elapsed time (--elapsed=false for byte-identical logs)")
	return cmd
}

func runCheck(cmd *cobra.Command, f *gateFlags, dirs []string, elapsed bool) error {
	start := time.Now()
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	g, err := f.lintAll(cmd, dirs, "")
	if err != nil {
		return err
	}
	// The verdict ends stdout unless stdout carries a document that it would corrupt.
	verdictTo := stdout
	for _, o := range g.outs {
		if o.path == "" && !lineFormat(o.format) {
			verdictTo = stderr
		}
	}
	color, _ := f.colorOn(verdictTo) // validated by lintAll
	res := report.Check{Lint: g.lint.All}
	scenarios := make([][]*simulate.Result, len(dirs))
	tests := make([]report.TestRun, len(dirs))
	for i, dir := range dirs {
		p := g.policies[i]
		res.Dirs = append(res.Dirs, report.VetResult{Dir: dir, OK: p != nil, Errors: g.loadErrs[i]})
		if p == nil {
			continue
		}
		if scenarios[i], err = runScenarios(dir, p); err != nil {
			return inputError(err)
		}
		if tests[i], err = runTests(dir, p); err != nil {
			return err
		}
		res.Scenarios = append(res.Scenarios, scenarios[i]...)
		res.Tests = append(res.Tests, tests[i])
	}

	err = writeOutputs(stdout, g.outs, func(w io.Writer, format string) error {
		switch format {
		case "json":
			return report.CheckJSON(w, res)
		case "sarif":
			return report.SARIF(w, res.RelativeTo(g.root).Results())
		case "junit":
			return report.CheckJUnit(w, res.RelativeTo(g.root))
		case "github":
			return report.GitHub(w, res.RelativeTo(g.root).Results())
		case "compact":
			return report.Compact(w, res.Results())
		}
		return checkTables(w, dirs, g.policies, g.lint, scenarios, tests)
	})
	if err != nil {
		return err
	}
	took := time.Since(start)
	if !elapsed {
		took = -1
	}
	fmt.Fprintln(verdictTo, report.Verdict(res, took, color))
	switch {
	case len(res.Lint.LoadErrors) > 0:
		return errInputPrinted
	case !res.Passed():
		return errPolicyFailed
	}
	return nil
}

// checkTables writes, per directory, the vet summary, the findings, the scenarios and the
// tests; a directory that did not load gets one line (its errors are on stderr).
func checkTables(w io.Writer, dirs []string, policies []*policy.Policy, lres *gate.LintResult, scenarios [][]*simulate.Result, tests []report.TestRun) error {
	unicode := isTerminal(w)
	for i, dir := range dirs {
		if policies[i] == nil {
			if len(dirs) > 1 {
				if _, err := fmt.Fprintf(w, "%s: did not load (errors on stderr)\n", dir); err != nil {
					return err
				}
			}
			continue
		}
		if _, err := fmt.Fprintln(w, summary(dir, policies[i])); err != nil {
			return err
		}
		if err := report.FindingsTable(w, lres.PerDir[i], nil, unicode); err != nil {
			return err
		}
		if err := report.SimulateTable(w, scenarios[i], unicode); err != nil {
			return err
		}
		if err := report.TestsTable(w, []report.TestRun{tests[i]}, unicode); err != nil {
			return err
		}
	}
	return nil
}
