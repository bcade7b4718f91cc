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
	evalTimeout  time.Duration // from --eval-timeout or the configuration (configure)
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

--fail-on takes any of new-escalation, new-exfiltration, weaker-approval, new-finding (active
findings at or above --severity, default the configuration's fail_on, after the baseline),
decision-flip and scenario-regression, or
none. The default is diff.fail_on of the repository configuration (.agentctl.yaml, found
upward from HEAD's directory), else new-escalation,new-exfiltration,weaker-approval,
scenario-regression.
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
			if err := f.configure(cmd, args); err != nil {
				return err
			}
			conds, err := f.validate(args)
			if err != nil {
				return inputError(err)
			}
			return f.run(cmd, args, conds)
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

// configure takes --fail-on and the evaluation budget from the repository configuration
// when the flags are not given.
func (f *diffFlags) configure(cmd *cobra.Command, args []string) error {
	f.evalTimeout = schema.DefaultEvalTimeout
	d, timeoutSet, err := evalTimeoutFlagValue(cmd)
	if err != nil {
		return err
	}
	if timeoutSet {
		f.evalTimeout = d
	}
	if cmd.Flags().Changed("fail-on") && timeoutSet {
		return nil
	}
	file, err := f.configFile(cmd, f.headDir(args), map[string]*config.File{})
	if err != nil || file == nil {
		return err
	}
	if v, ok := file.DiffFailOn(); ok && !cmd.Flags().Changed("fail-on") {
		f.failOn = v.V
	}
	if !timeoutSet {
		s, err := file.For(f.headDir(args))
		if err != nil {
			return inputError(err)
		}
		f.evalTimeout = s.EvalTimeout.V
	}
	return nil
}

// configFile is the configuration that applies to dir: --config, else the nearest
// .agentctl.yaml (nil for none). Files are loaded once per path into files.
func (f diffFlags) configFile(cmd *cobra.Command, dir string, files map[string]*config.File) (*config.File, error) {
	path := f.config
	if path == "" {
		var err error
		if path, err = config.Find(dir); err != nil {
			return nil, inputError(err)
		}
		if path == "" {
			return nil, nil
		}
	}
	if file := files[path]; file != nil {
		return file, nil
	}
	file, err := loadConfig(cmd.ErrOrStderr(), path, f.root)
	if err != nil {
		return nil, err
	}
	files[path] = file
	return file, nil
}

// lintSettings are the lint choices for HEAD's directory dir, as lint and check make them:
// the configuration's checks (enable, skip, severity), baseline and inline_suppressions,
// overrides included, with --baseline and --no-inline-suppressions on top. The threshold of
// new-finding is --severity, else the configuration's fail_on.
func (f diffFlags) lintSettings(cmd *cobra.Command, dir string, files map[string]*config.File) (diff.Options, lint.Severity, error) {
	file, err := f.configFile(cmd, dir, files)
	if err != nil {
		return diff.Options{}, 0, err
	}
	s, err := file.For(dir)
	if err != nil {
		return diff.Options{}, 0, inputError(err)
	}
	fl := cmd.Flags()
	if fl.Changed("severity") {
		s.FailOn = config.Value[string]{V: f.severity, Source: "flag --severity"}
	}
	if fl.Changed("baseline") {
		s.Baseline = config.Value[string]{V: f.baseline, Source: "flag --baseline"}
	}
	if fl.Changed("no-inline-suppressions") {
		s.InlineSuppressions = config.Value[bool]{V: !f.noInline, Source: "flag --no-inline-suppressions"}
	}
	threshold, err := lint.ParseSeverity(s.FailOn.V)
	if err != nil {
		return diff.Options{}, 0, inputError(fmt.Errorf("%s: %w", s.FailOn.Source, err))
	}
	checks, err := lint.Select(s.Enable.V, s.Skip.V)
	if err != nil {
		return diff.Options{}, 0, inputError(err)
	}
	if checks == nil {
		checks = []*lint.Check{} // every check skipped: no findings (nil would run them all)
	}
	opts := diff.Options{MaxDecisions: f.maxDecisions,
		Lint: lint.Options{Checks: checks, NoInlineSuppressions: !s.InlineSuppressions.V, Severities: map[string]lint.Severity{}}}
	for _, name := range s.SeverityKeys() {
		sev, err := lint.ParseSeverity(s.Severity[name].V)
		if err != nil {
			return diff.Options{}, 0, inputError(fmt.Errorf("%s: %w", s.Severity[name].Source, err))
		}
		opts.Lint.Severities[lint.Lookup(name).ID] = sev
	}
	if s.Baseline.V != "" {
		if opts.Baseline, err = lint.ReadBaseline(s.Baseline.V); err != nil {
			return diff.Options{}, 0, inputError(err)
		}
	}
	return opts, threshold, nil
}

// headDir is HEAD's (first) policy directory.
func (f diffFlags) headDir(args []string) string {
	if f.base == "" && len(args) == 2 {
		return args[1]
	}
	return dirsOrDot(args)[0]
}

func (f diffFlags) validate(args []string) ([]string, error) {
	formats := []string{"table", "markdown", "json", "github", "sarif"}
	if !slices.Contains(formats, f.output) {
		return nil, fmt.Errorf("unknown output format %q (want %s)", f.output, strings.Join(formats, ", "))
	}
	if f.base == "" && len(args) != 2 {
		return nil, fmt.Errorf("diff needs two directories, BASE and HEAD, or --base REF (got %d arguments)", len(args))
	}
	conds, err := diff.ParseConditions(f.failOn)
	if err != nil {
		return nil, err
	}
	if _, err := lint.ParseSeverity(f.severity); err != nil {
		return nil, fmt.Errorf("--severity: %w", err)
	}
	if f.maxLines < 1 || f.maxDecisions < 1 {
		return nil, errors.New("--max-lines and --max-decisions must be at least 1")
	}
	return conds, nil
}

// pair is one comparison: the directories to load and how to name them.
type pair struct {
	base, head           string // directories to load
	baseLabel, headLabel string
	baseFiles            func(string) string // maps BASE's file names for display
}

func (f diffFlags) run(cmd *cobra.Command, args []string, conds []string) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	var pairs []pair
	if f.base == "" {
		pairs = []pair{{base: args[0], head: args[1], baseLabel: args[0], headLabel: args[1], baseFiles: same}}
	} else {
		dirs := dirsOrDot(args)
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
	root, err := repoRoot(f.root, f.headDir(args))
	if err != nil {
		return err
	}
	// Every directory's settings first: a configuration error stops the run before any load.
	files := map[string]*config.File{}
	optsOf := make([]diff.Options, len(pairs))
	var threshold lint.Severity
	for i, pr := range pairs {
		var sev lint.Severity
		if optsOf[i], sev, err = f.lintSettings(cmd, pr.head, files); err != nil {
			return err
		}
		if i == 0 {
			threshold = sev // one threshold for the run: the first directory's
		}
	}
	var results []*diff.Result
	for i, pr := range pairs {
		opts := optsOf[i]
		bp, hp, changed, err := loadPair(stderr, pr, f.evalTimeout)
		if err != nil {
			return err
		}
		if changed != nil {
			opts.Scope = &diff.Scope{Container: changed.Container, Names: changed.Names, Edges: changed.Edges}
		}
		res, err := diff.Run(bp, hp, opts)
		if err != nil {
			return inputError(err)
		}
		res.Base, res.Head = pr.baseLabel, pr.headLabel
		res.MapFiles(pr.baseFiles)
		results = append(results, res)
	}
	gate, failed := report.DiffGate(results, conds, threshold)
	if err := f.render(stdout, results, conds, threshold, root, gate); err != nil {
		return fmt.Errorf("write diff: %w", err)
	}
	// The gate line ends the table and the markdown; beside a document (json, github,
	// sarif) it goes to stderr, as check's verdict does.
	if f.output != "table" && f.output != "markdown" && (failed || len(conds) > 0) {
		fmt.Fprintf(stderr, "agentctl: diff: %s\n", gate)
	}
	if failed {
		return errPolicyFailed
	}
	return nil
}

func (f diffFlags) render(w io.Writer, results []*diff.Result, conds []string, threshold lint.Severity, root, gate string) error {
	switch f.output {
	case "json":
		return report.DiffJSON(w, results)
	case "markdown":
		return report.DiffMarkdown(w, results, f.maxLines, gate)
	case "github":
		return report.GitHub(w, report.DiffFindings(results, conds, threshold).RelativeTo(root))
	case "sarif":
		return report.SARIF(w, report.DiffFindings(results, conds, threshold).RelativeTo(root))
	}
	return report.DiffTable(w, results, gate)
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
