package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/config"
	"github.com/agentctl/agentctl/diff"
	"github.com/agentctl/agentctl/gate"
	"github.com/agentctl/agentctl/gitrev"
	"github.com/agentctl/agentctl/lint"
	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/report"
	"github.com/agentctl/agentctl/schema"
)

// diffFlags are the flags of `agentctl diff`.
type diffFlags struct {
	output       string
	base         string
	failOn       []string
	severity     string
	baseline     string
	noInline     bool
	maxLines     int
	maxDecisions int
	config       string
	root         string
}

func newDiffCmd() *cobra.Command {
	var f diffFlags
	cmd := &cobra.Command{
		Use:   "diff [flags] BASE HEAD | diff --base REF [DIR...]",
		Short: "Show what a policy change lets which agent reach: a semantic diff of two versions",
		Long: `Diff compares two versions of a policy: two directories (BASE HEAD), or, with --base REF,
each directory (default .) as it is in the work tree against the same directory at git
revision REF (read with git archive; nothing is fetched). A directory with no .cue file at
REF (the change that adds the policy) is compared with the empty policy: everything in it
is added, and --fail-on judges it so. Both versions are loaded and validated; a version
that fails to load is reported with positions (exit 2).

It reports, each item with its file:line on the side where it exists:

  structure      agents, grants, credentials, sessions, tools, actions, hand-offs (modes),
                 approval rules, settings, scenarios and tests: added, removed or changed,
                 matched by what they are (names, tool.action, hand-off ends), never by index
  reach          per start agent and per scenario, capabilities that become reachable or stop
                 being reachable, with a shortest witness chain on that side; escalation marks
                 a capability outside the start's own authority, and the approval rules that
                 still gate it are named. A scenario with the same change as its start is
                 named on the start's line. Reach is recomputed only for the starts that can
                 reach a changed agent or hand-off within max_chain_depth
  exfiltration   exfiltration paths that appear or disappear, with their witnesses
  approvals      rules that ask for less (higher threshold, fewer approvers) or more, and
                 high-risk capabilities an agent holds that gain or lose every matching rule
  findings       lint findings new in HEAD and fixed since BASE, matched by fingerprint, with
                 the checks, severities, baseline and inline_suppressions that the repository
                 configuration (overrides included) sets for HEAD's directory
  scenarios      scenario expectations and request-level tests that flip between pass and fail
  decisions      runtime decisions (Go reference) that flip over a request set derived from
                 both versions: each agent a change touches, each capability it holds, executed
                 directly and after each hand-off into it, on a resource made from each pattern
                 of the grants covering it (accounts/* -> accounts/x), at most --max-decisions
                 requests

Output formats: table (plan-style, the default), markdown (a pull-request comment with
the gate's result and collapsible tables, new risk marked ⚠), json, github (annotations on
HEAD's lines) and sarif. The gate line ("gate: passed — ...", "gate: FAILED —
new-escalation: 2") ends the table and the markdown, and goes to stderr with the others. As lint's,
github and sarif locations are relative to the repository root: --root, else the git
top-level of HEAD's directory.

--fail-on takes any of new-escalation, new-exfiltration, weaker-approval, weaker-flow,
new-finding (active findings at or above --severity, default the configuration's fail_on,
after the baseline), decision-flip and scenario-regression, or none. The default is
diff.fail_on of the repository configuration (.agentctl.yaml, found upward from HEAD's
directory), else new-escalation,new-exfiltration,weaker-approval,weaker-flow,
scenario-regression. With several directories, each one's changes are judged by its own
configuration (diff.fail_on, and fail_on for new findings); flags win for every one, and the
gate line names the directories when their gates differ.
Exit status: 0 no condition holds, 1 a condition holds, 2 the input or the invocation is wrong.`,
		Example: `  agentctl diff policies/main policies/pr
  agentctl diff --base origin/main ./...
  agentctl diff --base HEAD~1 scenarios/support-refunds -o markdown
  agentctl diff --base main --fail-on new-escalation,new-finding --severity medium -o github`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.base != "" {
				dirs, err := policyDirs(cmd.ErrOrStderr(), args)
				if err != nil {
					return err
				}
				args = dirs
			}
			if err := f.validate(args); err != nil {
				return inputError(err)
			}
			runs, err := f.settings(cmd, f.headDirs(args))
			if err != nil {
				return err
			}
			gates, err := f.gates(cmd, runs)
			if err != nil {
				return err
			}
			return f.run(cmd, args, runs, gates)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table, markdown, json, github or sarif")
	fl.StringVar(&f.base, "base", "", "compare each DIR with the same directory at this git revision")
	fl.StringSliceVar(&f.failOn, "fail-on", diff.DefaultFailOn, "exit 1 when any of these holds: "+strings.Join(diff.Conditions, ", ")+", or none (default: diff.fail_on of "+config.FileName+", else as shown)")
	fl.StringVar(&f.config, "config", "", "repository configuration file (default: the nearest "+config.FileName+" up to the repository root)")
	fl.StringVar(&f.severity, "severity", "high", "least severity of a new finding that counts for --fail-on new-finding (default: fail_on of "+config.FileName+", else high)")
	fl.StringVar(&f.baseline, "baseline", "", "treat the findings listed in this baseline file as accepted, on both sides (default: baseline of "+config.FileName+")")
	fl.BoolVar(&f.noInline, "no-inline-suppressions", false, "ignore @ignore attributes (default: inline_suppressions of "+config.FileName+", else honour them)")
	fl.IntVar(&f.maxLines, "max-lines", 20, "markdown: at most this many lines per section")
	fl.IntVar(&f.maxDecisions, "max-decisions", diff.DefaultMaxDecisions, "decide at most this many derived requests on each side")
	fl.StringVar(&f.root, "root", "", "repository root that github and sarif locations are relative to (default: the git top-level)")
	return cmd
}

// settings resolves the configuration of each HEAD directory as lint and check do
// (gate.Settings), with --severity (the least severity of a new finding that counts),
// --baseline, --no-inline-suppressions and --eval-timeout on top.
func (f diffFlags) settings(cmd *cobra.Command, heads []string) ([]gate.Dir, error) {
	fl := cmd.Flags()
	inline := !f.noInline
	o := gate.Overrides{FailOn: ifChanged(fl, "severity", &f.severity), FailOnFlag: "--severity",
		Baseline: ifChanged(fl, "baseline", &f.baseline), InlineSuppressions: ifChanged(fl, "no-inline-suppressions", &inline)}
	var err error
	if o.EvalTimeout, err = evalTimeoutOverride(cmd); err != nil {
		return nil, err
	}
	runs, err := gate.Settings(cmd.ErrOrStderr(), heads, f.config, f.root, o)
	return runs, gateError(err)
}

// gates is the gate of each HEAD directory: --fail-on, else diff.fail_on of the directory's
// configuration file, else diff.DefaultFailOn; a new finding counts from the directory's
// fail_on (--severity on top).
func (f diffFlags) gates(cmd *cobra.Command, runs []gate.Dir) ([]diff.Gate, error) {
	gates := make([]diff.Gate, len(runs))
	for i, r := range runs {
		list := f.failOn
		if v, ok := r.File.DiffFailOn(); ok && !cmd.Flags().Changed("fail-on") {
			list = v.V
		}
		conds, err := diff.ParseConditions(list)
		if err != nil {
			return nil, inputError(err)
		}
		gates[i] = diff.Gate{FailOn: conds, Threshold: r.FailOn}
	}
	return gates, nil
}

// headDirs are the HEAD directories: HEAD of BASE HEAD, else each directory of --base.
func (f diffFlags) headDirs(args []string) []string {
	if f.base == "" {
		return args[1:]
	}
	return args
}

// validate checks the flags and the arguments, before any file is read.
func (f diffFlags) validate(args []string) error {
	formats := []string{"table", "markdown", "json", "github", "sarif"}
	if !slices.Contains(formats, f.output) {
		return fmt.Errorf("unknown output format %q (want %s)", f.output, strings.Join(formats, ", "))
	}
	if f.base == "" && len(args) != 2 {
		return fmt.Errorf("diff needs two directories, BASE and HEAD, or --base REF (got %d arguments)", len(args))
	}
	if f.base == "" && (schema.IsRecursive(args[0]) || schema.IsRecursive(args[1])) {
		return errors.New("diff BASE HEAD takes two policy directories, not patterns: to compare every policy directory under DIR with a git revision, use --base REF DIR/...")
	}
	if _, err := diff.ParseConditions(f.failOn); err != nil {
		return err
	}
	if f.maxLines < 1 || f.maxDecisions < 1 {
		return errors.New("--max-lines and --max-decisions must be at least 1")
	}
	return nil
}

// pair is one comparison: the directories to load and how to name them.
type pair struct {
	base, head           string // directories to load
	baseLabel, headLabel string
	baseFiles            func(string) string // maps BASE's file names for display
}

// run compares each pair; runs and gates are HEAD's settings and gate, by pair.
func (f diffFlags) run(cmd *cobra.Command, args []string, runs []gate.Dir, gates []diff.Gate) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	var pairs []pair
	if f.base == "" {
		pairs = []pair{{base: args[0], head: args[1], baseLabel: args[0], headLabel: args[1], baseFiles: same}}
	} else {
		dirs := args
		snap, err := gitrev.Extract(context.Background(), f.base, dirs)
		if err != nil {
			return inputError(fmt.Errorf("--base: %w", err))
		}
		defer snap.Close()
		for _, d := range dirs {
			tmp := snap.Dir(d)
			if err := snap.Absent(d); err != nil {
				// The change adds this policy: compare with the empty policy, as terraform
				// plans a create, so the gate judges everything in it as added.
				fmt.Fprintf(stderr, "agentctl: %v: comparing with an empty policy (everything in %s is added)\n", err, d)
			}
			pairs = append(pairs, pair{base: tmp, head: d, baseLabel: d + "@" + f.base, headLabel: d, baseFiles: rebase(tmp, d)})
		}
	}
	root, err := repoRoot(f.root, runs[0].Dir)
	if err != nil {
		return err
	}
	// Every directory's baseline first: one that does not read stops the run before any load.
	opts := make([]diff.Options, len(runs))
	for i, r := range runs {
		opts[i] = diff.Options{MaxDecisions: f.maxDecisions, Lint: r.LintOptions()}
		if b := r.Settings.Baseline.V; b != "" {
			if opts[i].Baseline, err = lint.ReadBaseline(b); err != nil {
				return inputError(err)
			}
		}
	}
	var results []*diff.Result
	for i, pr := range pairs {
		bp, hp, changed, err := loadPair(stderr, pr, runs[i].Settings.EvalTimeout.V)
		if err != nil {
			return err
		}
		if changed != nil {
			opts[i].Scope = &diff.Scope{Container: changed.Container, Names: changed.Names, Edges: changed.Edges}
		}
		res, err := diff.Run(bp, hp, opts[i])
		if err != nil {
			return inputError(err)
		}
		res.Base, res.Head = pr.baseLabel, pr.headLabel
		res.MapFiles(pr.baseFiles)
		results = append(results, res)
	}
	verdict, failed := report.DiffGate(results, gates)
	if err := f.render(stdout, results, gates, root, verdict); err != nil {
		return fmt.Errorf("write diff: %w", err)
	}
	// The gate line ends the table and the markdown; beside a document (json, github,
	// sarif) it goes to stderr, as check's verdict does, unless every gate is off.
	on := slices.ContainsFunc(gates, func(g diff.Gate) bool { return len(g.FailOn) > 0 })
	if f.output != "table" && f.output != "markdown" && (failed || on) {
		fmt.Fprintf(stderr, "agentctl: diff: %s\n", verdict)
	}
	if failed {
		return errPolicyFailed
	}
	return nil
}

func (f diffFlags) render(w io.Writer, results []*diff.Result, gates []diff.Gate, root, verdict string) error {
	switch f.output {
	case "json":
		return report.DiffJSON(w, results)
	case "markdown":
		return report.DiffMarkdown(w, results, f.maxLines, verdict)
	case "github":
		return report.GitHub(w, report.DiffFindings(results, gates).RelativeTo(root))
	case "sarif":
		return report.SARIF(w, report.DiffFindings(results, gates).RelativeTo(root))
	}
	return report.DiffTable(w, results, verdict)
}

// loadPair loads both versions: base is derived from head where they share their text
// (schema.LoadPair), since loading is nearly all of a diff's cost. Load errors of both are
// printed, base's under the names its files have in the repository.
func loadPair(stderr io.Writer, pr pair, timeout time.Duration) (*policy.Policy, *policy.Policy, *schema.Changed, error) {
	stop := busy(stderr, "loading "+pr.baseLabel+" and "+pr.headLabel)
	base, head, changed, err := schema.LoadPairWith(pr.base, pr.head, schema.Options{EvalTimeout: timeout})
	stop()
	if err == nil {
		return base, head, changed, nil
	}
	var pe schema.PairErrors
	if !errors.As(err, &pe) {
		return nil, nil, nil, inputError(fmt.Errorf("load %s and %s: %w", pr.baseLabel, pr.headLabel, err))
	}
	for j := range pe.Base {
		pe.Base[j].Pos.File = pr.baseFiles(pe.Base[j].Pos.File)
		for _, shown := range shownNames(pr.base) {
			pe.Base[j].Msg = strings.ReplaceAll(pe.Base[j].Msg, shown, pr.baseLabel)
		}
	}
	fmt.Fprintln(stderr, pe.Error())
	return nil, nil, nil, errInputPrinted
}

func same(s string) string { return s }

// shownNames are the names the loader may show for dir: as given, and relative to the
// working directory.
func shownNames(dir string) []string {
	names := []string{dir}
	if abs, err := filepath.Abs(dir); err == nil {
		if wd, err := filepath.Abs("."); err == nil {
			if rel, err := filepath.Rel(wd, abs); err == nil && rel != dir {
				names = append([]string{rel}, names...)
			}
		}
	}
	return names
}

// rebase maps a file under the extracted directory tmp to the same name under dir.
func rebase(tmp, dir string) func(string) string {
	return func(file string) string {
		abs, err := filepath.Abs(file)
		if err != nil {
			return file
		}
		rel, err := filepath.Rel(tmp, abs)
		if err != nil || strings.HasPrefix(rel, "..") {
			return file
		}
		return filepath.Join(dir, rel)
	}
}
