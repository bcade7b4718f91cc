package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/report"
)

// lintFlags are the flags of `agentctl lint`.
type lintFlags struct {
	gateFlags
	frameworks    []string
	writeBaseline string
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
suppressed, new ones fail, and entries that no longer match are reported as stale. Entries
name their policy directory (relative to the repository root): an entry suppresses its
finding in that directory only, and rewriting the baseline for some directories keeps the
entries of the others. --write-baseline works when the file does not exist yet; any other
run with a configured baseline that does not exist fails (exit 2) and says how to write it.

Settings come from the repository configuration (.agentctl.yaml, see 'agentctl config');
flags override it. Output formats: table (default), json, sarif (2.1.0, for code scanning),
junit (one case per finding: only those at or above --fail-on fail), github (workflow
command annotations), compact (one line per finding, file:line:col: severity ID message,
like go vet). Repeat -o for several: a format alone goes to stdout, FORMAT=FILE to a
file. SARIF, JUnit and GitHub locations are relative to the repository root (--root,
default the git top-level). A directory that does not load is reported in every format and
the others are still linted.

Exit status: 0 no active finding at or above --fail-on, 1 there is one, 2 a directory did
not load or the invocation is wrong.`,
		Example: `  agentctl lint
  agentctl lint -o compact ./...
  agentctl lint --fail-on critical -o sarif policies/ > agentctl.sarif
  agentctl lint -o table -o sarif=agentctl.sarif -o github policies/*
  agentctl lint --skip AC051,no-session-limits --framework asi
  agentctl lint --write-baseline .agentctl-baseline.json
  agentctl lint --baseline .agentctl-baseline.json -o github`,
		RunE: func(cmd *cobra.Command, args []string) error {
			dirs, err := policyDirs(cmd.ErrOrStderr(), args)
			if err != nil {
				return err
			}
			return f.run(cmd, dirs)
		},
	}
	fl := cmd.Flags()
	f.register(fl)
	fl.StringSliceVar(&f.frameworks, "framework", nil, "show the mapped references of these frameworks in the table: asi, nhi, maestro, nist")
	fl.StringVar(&f.writeBaseline, "write-baseline", "", "write the current findings to this baseline file")
	return cmd
}

// run lints every directory that loads, renders every output and returns the exit error:
// 2 when a directory did not load (after the others were linted and reported), else 1
// when a finding is at or above its directory's threshold.
func (f *lintFlags) run(cmd *cobra.Command, dirs []string) error {
	var frameworks []string
	for _, fw := range f.frameworks {
		name, err := frameworkName(fw)
		if err != nil {
			return inputError(err)
		}
		if !slices.Contains(frameworks, name) {
			frameworks = append(frameworks, name)
		}
	}
	g, err := f.lintAll(cmd, dirs, f.writeBaseline)
	if err != nil {
		return err
	}
	doc, root := g.lint.All, g.root
	err = writeOutputs(cmd.OutOrStdout(), g.outs, func(w io.Writer, format string) error {
		if ok, err := findingsDocument(w, format, doc, root); ok {
			return err
		}
		if !slices.ContainsFunc(g.policies, func(p *policy.Policy) bool { return p != nil }) {
			return nil // nothing loaded: the errors on stderr are the whole report
		}
		return report.FindingsTable(w, doc, frameworks, isTerminal(w))
	})
	switch {
	case err != nil:
		return err
	case len(doc.LoadErrors) > 0:
		return errInputPrinted
	case g.lint.Failed:
		return errPolicyFailed
	}
	return nil
}

// findingsDocument writes findings in a document format (json, sarif, junit, github), with
// locations relative to the repository root where code scanning or CI needs them. ok is
// false for any other format: each command writes its table its own way.
func findingsDocument(w io.Writer, format string, doc report.Findings, root string) (ok bool, err error) {
	switch format {
	case "json":
		return true, report.FindingsJSON(w, doc)
	case "sarif":
		return true, report.SARIF(w, doc.RelativeTo(root))
	case "junit":
		return true, report.FindingsJUnit(w, doc.RelativeTo(root))
	case "github":
		return true, report.GitHub(w, doc.RelativeTo(root))
	case "compact":
		return true, report.Compact(w, doc)
	}
	return false, nil
}

// frameworkName normalises one --framework value of lint or checks and rejects unknown ones.
func frameworkName(fw string) (string, error) {
	fw = strings.ToLower(strings.TrimSpace(fw))
	if !slices.Contains(report.FrameworkNames(), fw) {
		return "", fmt.Errorf("unknown framework %q (want asi, nhi, maestro or nist)", fw)
	}
	return fw, nil
}
