package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/lint"
	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/report"
)

// lintFlags are the flags of `agentctl lint`.
type lintFlags struct {
	output        string
	failOn        string
	checks        []string
	skip          []string
	frameworks    []string
	baseline      string
	writeBaseline string
	noInline      bool
}

// lintRun is a validated lint invocation.
type lintRun struct {
	flags      lintFlags
	failOn     lint.Severity
	checks     []*lint.Check
	frameworks []string
}

func newLintCmd() *cobra.Command {
	var f lintFlags
	cmd := &cobra.Command{
		Use:   "lint [DIR...]",
		Short: "Check policies against the security check catalogue (AC001-AC054)",
		Long: `Lint loads each policy directory and runs the check catalogue on it (see 'agentctl checks'):
workload identities, credentials, wildcard and standing grants, human approvals, hand-offs
(privilege multiplication, cycles, chain depth, the lethal trifecta), third-party tools and
audit settings. Each finding names the element at fault with its file:line:col.

Suppress a finding with @ignore("AC010", "reason") on the element (or an element containing
it); an @ignore without a reason suppresses nothing and raises AC053. --no-inline-suppressions
ignores every @ignore. To adopt lint on an existing estate, record today's findings with
--write-baseline FILE and pass --baseline FILE afterwards: listed findings are reported as
suppressed, new ones fail, and entries that no longer match are reported as stale.

Output formats: table (default), json, sarif (2.1.0, for code scanning), junit, github
(workflow command annotations). Exit status: 0 no active finding at or above --fail-on,
1 there is one, 2 the input or the invocation is wrong.`,
		Example: `  agentctl lint
  agentctl lint --fail-on critical -o sarif policies/ > agentctl.sarif
  agentctl lint --skip AC051,no-session-limits --framework asi
  agentctl lint --write-baseline .agentctl-baseline.json
  agentctl lint --baseline .agentctl-baseline.json -o github`,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := f.validate()
			if err != nil {
				return inputError(err)
			}
			policies, err := loadAll(cmd.ErrOrStderr(), dirsOrDot(args))
			if err != nil {
				return err
			}
			return r.run(cmd.OutOrStdout(), cmd.ErrOrStderr(), policies)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table, json, sarif, junit or github")
	fl.StringVar(&f.failOn, "fail-on", "high", "fail (exit 1) on active findings at or above: critical, high, medium, low or info")
	fl.StringSliceVar(&f.checks, "checks", nil, "run only these checks (IDs or slugs, comma-separated)")
	fl.StringSliceVar(&f.skip, "skip", nil, "skip these checks (IDs or slugs, comma-separated)")
	fl.StringSliceVar(&f.frameworks, "framework", nil, "show the mapped references of these frameworks in the table: asi, nhi, maestro, nist")
	fl.StringVar(&f.baseline, "baseline", "", "treat the findings listed in this baseline file as accepted")
	fl.StringVar(&f.writeBaseline, "write-baseline", "", "write the current findings to this baseline file")
	fl.BoolVar(&f.noInline, "no-inline-suppressions", false, "ignore @ignore attributes")
	return cmd
}

func (f lintFlags) validate() (*lintRun, error) {
	r := &lintRun{flags: f}
	if !slices.Contains([]string{"table", "json", "sarif", "junit", "github"}, f.output) {
		return nil, fmt.Errorf("unknown output format %q (want table, json, sarif, junit or github)", f.output)
	}
	var err error
	if r.failOn, err = lint.ParseSeverity(f.failOn); err != nil {
		return nil, fmt.Errorf("--fail-on: %w", err)
	}
	if r.checks, err = lint.Select(f.checks, f.skip); err != nil {
		return nil, err
	}
	if len(r.checks) == 0 {
		return nil, fmt.Errorf("--checks and --skip leave no check to run")
	}
	for _, fw := range f.frameworks {
		name, err := frameworkName(fw)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(r.frameworks, name) {
			r.frameworks = append(r.frameworks, name)
		}
	}
	return r, nil
}

// run lints the loaded policies, applies the baseline, renders and returns the exit error.
func (r *lintRun) run(stdout, stderr io.Writer, policies []*policy.Policy) error {
	var findings []lint.Finding
	var files []string
	for _, p := range policies {
		findings = append(findings, lint.Run(p, lint.Options{Checks: r.checks, NoInlineSuppressions: r.flags.noInline})...)
		files = append(files, p.Files...)
	}
	var stale []report.StaleEntry
	if r.flags.baseline != "" {
		b, err := lint.ReadBaseline(r.flags.baseline)
		if err != nil {
			return inputError(err)
		}
		if b.Notice != "" {
			fmt.Fprintf(stderr, "agentctl: %s\n", b.Notice)
		}
		for _, e := range b.Apply(findings, r.checks) {
			stale = append(stale, report.StaleEntry{Check: e.Check, Element: e.Element})
			fmt.Fprintf(stderr, "agentctl: %s: stale baseline entry %s %s: no such finding any more, remove it\n", r.flags.baseline, e.Check, e.Name())
		}
	}
	if r.flags.writeBaseline != "" {
		b := lint.NewBaseline(findings)
		if err := writeBaselineFile(r.flags.writeBaseline, b); err != nil {
			return inputError(err)
		}
		b.Apply(findings, r.checks)
		fmt.Fprintf(stderr, "agentctl: wrote %s: %d baseline entries\n", r.flags.writeBaseline, len(b.Findings))
	}
	doc := report.Findings{
		Rules:    report.LintRules(r.checks),
		Findings: report.LintFindings(findings, r.failOn),
		Files:    files,
		FailOn:   r.failOn.String(),
		Stale:    stale,
	}
	if err := r.render(stdout, doc); err != nil {
		return fmt.Errorf("write %s output: %w", r.flags.output, err)
	}
	if lint.Failed(findings, r.failOn) {
		return errPolicyFailed
	}
	return nil
}

// frameworkName normalises one --framework value of lint or checks and rejects unknown ones.
func frameworkName(fw string) (string, error) {
	fw = strings.ToLower(strings.TrimSpace(fw))
	if !slices.Contains(report.FrameworkNames(), fw) {
		return "", fmt.Errorf("unknown framework %q (want asi, nhi, maestro or nist)", fw)
	}
	return fw, nil
}

func (r *lintRun) render(w io.Writer, doc report.Findings) error {
	switch r.flags.output {
	case "json":
		return report.FindingsJSON(w, doc)
	case "sarif":
		return report.SARIF(w, doc)
	case "junit":
		return report.FindingsJUnit(w, doc)
	case "github":
		return report.GitHub(w, doc)
	}
	return report.FindingsTable(w, doc, r.frameworks, isTerminal(w))
}

func writeBaselineFile(path string, b *lint.Baseline) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write baseline: %w", err)
	}
	if err := b.Write(f); err != nil {
		f.Close()
		return fmt.Errorf("write baseline %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write baseline %s: %w", path, err)
	}
	return nil
}

// lintForCheck prints the default lint table for one loaded policy and reports whether it
// has active findings at or above failOn. `agentctl check` calls it after vet.
func lintForCheck(cmd *cobra.Command, p *policy.Policy, failOn string) (failed bool, err error) {
	r, err := lintFlags{output: "table", failOn: failOn}.validate()
	if err != nil {
		return false, inputError(err)
	}
	findings := lint.Run(p, lint.Options{Checks: r.checks})
	doc := report.Findings{Rules: report.LintRules(r.checks), Findings: report.LintFindings(findings, r.failOn), Files: p.Files, FailOn: r.failOn.String()}
	w := cmd.OutOrStdout()
	if err := report.FindingsTable(w, doc, nil, isTerminal(w)); err != nil {
		return false, fmt.Errorf("write lint table: %w", err)
	}
	return lint.Failed(findings, r.failOn), nil
}
