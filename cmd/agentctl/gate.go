package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/agentctl/agentctl/config"
	"github.com/agentctl/agentctl/internal/outfile"
	"github.com/agentctl/agentctl/lint"
	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/report"
	"github.com/agentctl/agentctl/schema"
)

// gateFlags are the flags lint and check share. Each one set on the command line overrides
// the repository configuration (.agentctl.yaml).
type gateFlags struct {
	outputs  []string
	failOn   string
	checks   []string
	skip     []string
	baseline string
	noInline bool
	config   string
	root     string
	color    string
	// hasOutputs is set when -o is the gate's repeatable output flag (not config's format).
	hasOutputs bool
}

// gateFormats are the output formats of lint and check, which share the configuration
// file's output list.
var gateFormats = []string{"table", "json", "sarif", "junit", "github"}

// register adds the selection flags, the repeatable -o and --root.
func (f *gateFlags) register(fl *pflag.FlagSet) {
	f.hasOutputs = true
	fl.StringArrayVarP(&f.outputs, "output", "o", nil, "output `FORMAT[=FILE]`, repeatable: "+strings.Join(gateFormats, ", ")+"; a format alone goes to stdout (default: output of "+config.FileName+", else table)")
	fl.StringVar(&f.root, "root", "", "repository root: SARIF, GitHub and JUnit locations are relative to it, and files named in "+config.FileName+" stay inside it (default: the git top-level)")
	f.registerSelection(fl)
}

// registerSelection adds the flags that override settings of the configuration file.
func (f *gateFlags) registerSelection(fl *pflag.FlagSet) {
	fl.StringVar(&f.failOn, "fail-on", "", "fail (exit 1) on active findings at or above: critical, high, medium, low or info (default: fail_on of "+config.FileName+", else high)")
	fl.StringSliceVar(&f.checks, "checks", nil, "run only these checks (IDs or slugs, comma-separated)")
	fl.StringSliceVar(&f.skip, "skip", nil, "skip these checks (IDs or slugs, comma-separated)")
	fl.StringVar(&f.baseline, "baseline", "", "treat the findings listed in this baseline file as accepted (default: baseline of "+config.FileName+")")
	fl.BoolVar(&f.noInline, "no-inline-suppressions", false, "ignore @ignore attributes (default: inline_suppressions of "+config.FileName+", else honour them)")
	fl.StringVar(&f.config, "config", "", "repository configuration file (default: the nearest "+config.FileName+" up to the repository root)")
}

// dirRun is one policy directory with its effective settings.
type dirRun struct {
	dir        string
	file       *config.File // the configuration file applied, nil for none
	settings   config.Settings
	failOn     lint.Severity
	checks     []*lint.Check
	severities map[string]lint.Severity
}

// settings resolves the effective configuration of every directory: defaults, the
// configuration file, then the flags the user set.
func (f *gateFlags) settings(cmd *cobra.Command, dirs []string) ([]dirRun, error) {
	files := map[string]*config.File{}
	var out []dirRun
	for _, dir := range dirs {
		file, s, err := f.settingsFor(cmd, dir, files)
		if err != nil {
			return nil, err
		}
		r := dirRun{dir: dir, file: file, settings: s, severities: map[string]lint.Severity{}}
		if r.failOn, err = lint.ParseSeverity(s.FailOn.V); err != nil {
			return nil, inputError(fmt.Errorf("%s: fail_on: %w", s.FailOn.Source, err))
		}
		if r.checks, err = lint.Select(s.Enable.V, s.Skip.V); err != nil {
			return nil, inputError(err)
		}
		if len(r.checks) == 0 {
			return nil, inputError(fmt.Errorf("--checks and --skip leave no check to run (%s, %s)", s.Enable.Source, s.Skip.Source))
		}
		for _, name := range s.SeverityKeys() {
			sev, err := lint.ParseSeverity(s.Severity[name].V)
			if err != nil {
				return nil, inputError(fmt.Errorf("%s: %w", s.Severity[name].Source, err))
			}
			r.severities[lint.Lookup(name).ID] = sev
		}
		out = append(out, r)
	}
	return out, nil
}

// settingsFor applies the configuration file of dir (loaded once per path into files) and
// the flags the user set.
func (f *gateFlags) settingsFor(cmd *cobra.Command, dir string, files map[string]*config.File) (*config.File, config.Settings, error) {
	path := f.config
	if path == "" {
		var err error
		if path, err = config.Find(dir); err != nil {
			return nil, config.Settings{}, inputError(err)
		}
	}
	var file *config.File
	if path != "" {
		if file = files[path]; file == nil {
			var err error
			if file, err = loadConfig(cmd.ErrOrStderr(), path, f.root); err != nil {
				return nil, config.Settings{}, err
			}
			files[path] = file
		}
	}
	s, err := file.For(dir)
	if err != nil {
		return nil, s, inputError(err)
	}
	fl := cmd.Flags()
	flag := func(name string) (bool, string) { return fl.Changed(name), "flag --" + name }
	if ok, src := flag("fail-on"); ok {
		if _, err := lint.ParseSeverity(f.failOn); err != nil {
			return nil, s, inputError(fmt.Errorf("--fail-on: %w", err))
		}
		s.FailOn = config.Value[string]{V: f.failOn, Source: src}
	}
	if ok, src := flag("checks"); ok {
		s.Enable = config.Value[[]string]{V: f.checks, Source: src}
	}
	if ok, src := flag("skip"); ok {
		s.Skip = config.Value[[]string]{V: f.skip, Source: src}
	}
	if ok, src := flag("baseline"); ok {
		s.Baseline = config.Value[string]{V: f.baseline, Source: src}
	}
	if ok, src := flag("no-inline-suppressions"); ok {
		s.InlineSuppressions = config.Value[bool]{V: !f.noInline, Source: src}
	}
	if ok, src := flag("output"); ok && f.hasOutputs {
		s.Output = config.Value[[]string]{V: f.outputs, Source: src}
	}
	if d, ok, err := evalTimeoutFlagValue(cmd); err != nil {
		return nil, s, err
	} else if ok {
		s.EvalTimeout = config.Value[time.Duration]{V: d, Source: "flag --" + evalTimeoutFlag}
	}
	return file, s, nil
}

// loadConfig loads a configuration file and checks the files it names against the
// repository root (--root, else the git top-level). Its errors, one per line with
// file:line:col, are printed to stderr as they are (errInputPrinted).
func loadConfig(stderr io.Writer, path, root string) (*config.File, error) {
	file, err := config.Load(path)
	if err == nil {
		err = file.CheckPaths(root)
	}
	var errs config.Errors
	switch {
	case errors.As(err, &errs):
		fmt.Fprintln(stderr, errs.Error())
		return nil, errInputPrinted
	case err != nil:
		return nil, inputError(err)
	}
	return file, nil
}

// gate is a lint or check run after its settings, outputs and root are resolved, its
// directories loaded and the loaded ones linted.
type gate struct {
	runs     []dirRun
	outs     []output
	root     string
	policies []*policy.Policy     // nil where a directory did not load
	loadErrs [][]report.LoadError // by directory
	lint     *lintResult
}

// lintAll resolves the settings of dirs, validates the outputs, then loads
// and lints every directory (recording every finding in writeBaseline when set). Input
// errors come first, before any directory is read.
func (f *gateFlags) lintAll(cmd *cobra.Command, dirs []string, writeBaseline string) (*gate, error) {
	var (
		g   gate
		err error
	)
	if g.runs, err = f.settings(cmd, dirs); err != nil {
		return nil, err
	}
	if g.outs, err = gateInputs(g.runs); err != nil {
		return nil, err
	}
	if g.root, err = repoRoot(f.root, dirs[0]); err != nil {
		return nil, err
	}
	if _, err := f.colorOn(io.Discard); err != nil {
		return nil, err
	}
	timeouts := make([]time.Duration, len(g.runs))
	for i, r := range g.runs {
		timeouts[i] = r.settings.EvalTimeout.V
	}
	if g.policies, g.loadErrs, err = loadEach(cmd.ErrOrStderr(), dirs, timeouts); err != nil {
		return nil, err
	}
	if g.lint, err = lintDirs(cmd.OutOrStdout(), cmd.ErrOrStderr(), g.runs, g.policies, g.loadErrs, writeBaseline); err != nil {
		return nil, err
	}
	return &g, nil
}

// gateInputs validates what a gate reads and writes besides its policies, before any policy
// is read: the outputs (of the first directory's settings) and every baseline. config runs
// it too, so that it refuses what a gate would.
func gateInputs(runs []dirRun) ([]output, error) {
	dirs := make([]string, len(runs))
	for i, r := range runs {
		dirs[i] = r.dir
	}
	outs, err := parseOutputs(runs[0].settings.Output.V, gateFormats, dirs)
	if err != nil {
		return nil, inputError(err)
	}
	for _, r := range runs {
		if b := r.settings.Baseline.V; b != "" {
			if _, err := lint.ReadBaseline(b); err != nil {
				return nil, inputError(err)
			}
		}
	}
	return outs, nil
}

// output is one -o value: a format and the file it goes to ("" for stdout), with the rules
// for replacing that file.
type output struct {
	format, path string
	dest         outfile.Options
}

// reportDest protects the policy directories dirs from report outputs: a file there is
// replaced only when it is an earlier agentctl document (report.IsOutput).
func reportDest(dirs []string) outfile.Options {
	return outfile.Options{Protect: dirs, Ours: report.IsOutput}
}

// parseOutputs validates -o values (or the configuration's output list). Line formats
// (table, github) may share stdout, in the order given; a document (json, sarif, junit) on
// stdout must be alone there.
func parseOutputs(values []string, formats []string, dirs []string) ([]output, error) {
	var out, onStdout []output
	for _, v := range values {
		format, path, hasPath := strings.Cut(v, "=")
		if err := checkFormat(format, formats...); err != nil {
			return nil, err
		}
		if hasPath && path == "" {
			return nil, fmt.Errorf("-o %s: empty file name after '='", v)
		}
		if path == "-" {
			path = ""
		}
		o := output{format, path, reportDest(dirs)}
		if o.path == "" {
			onStdout = append(onStdout, o)
		} else if info, err := os.Stat(filepath.Dir(path)); err != nil || !info.IsDir() {
			// Fail before any work rather than after the first outputs were written.
			return nil, fmt.Errorf("-o %s: directory %s does not exist", v, filepath.Dir(path))
		} else if err := outfile.Check(path, o.dest); err != nil {
			return nil, fmt.Errorf("-o %s: %w", v, err)
		}
		out = append(out, o)
	}
	if len(onStdout) > 1 {
		for _, o := range onStdout {
			if o.format != "table" && o.format != "github" {
				return nil, fmt.Errorf("-o %s cannot share stdout with another output: write it to a file, -o %s=FILE", o.format, o.format)
			}
		}
	}
	return out, nil
}

// writeOutputs renders each output to stdout or its file. Files go through outfile, like
// every file a user names: never a .cue file, a directory or a special file.
func writeOutputs(stdout io.Writer, outs []output, render func(w io.Writer, format string) error) error {
	for _, o := range outs {
		if o.path == "" {
			if err := render(stdout, o.format); err != nil {
				return fmt.Errorf("write %s output: %w", o.format, err)
			}
			continue
		}
		var buf bytes.Buffer
		if err := render(&buf, o.format); err != nil {
			return fmt.Errorf("write %s: %w", o.path, err)
		}
		if err := outfile.Write(stdout, o.path, buf.Bytes(), o.dest); err != nil {
			return inputError(fmt.Errorf("-o %s=%s: %w", o.format, o.path, err))
		}
	}
	return nil
}

// loadEach loads every directory within its evaluation budget (timeouts, by directory); a
// directory that fails to load has a nil policy and its errors, which are printed to stderr,
// so the others can still be checked.
func loadEach(stderr io.Writer, dirs []string, timeouts []time.Duration) ([]*policy.Policy, [][]report.LoadError, error) {
	policies := make([]*policy.Policy, len(dirs))
	loadErrs := make([][]report.LoadError, len(dirs))
	for i, dir := range dirs {
		stop := busy(stderr, "loading "+dir)
		p, err := schema.LoadWith(dir, schema.Options{EvalTimeout: timeouts[i]})
		stop()
		if err == nil {
			policies[i] = p
			continue
		}
		var errs schema.Errors
		if !errors.As(err, &errs) {
			return nil, nil, inputError(fmt.Errorf("load %s: %w", dir, err))
		}
		fmt.Fprintln(stderr, errs.Error())
		for _, e := range errs {
			loadErrs[i] = append(loadErrs[i], report.LoadError{Dir: dir, File: e.Pos.File, Line: e.Pos.Line, Column: e.Pos.Col, Message: e.Msg})
		}
	}
	return policies, loadErrs, nil
}

// lintResult is the lint stage over every directory that loaded.
type lintResult struct {
	perDir []report.Findings // by directory, nil where it did not load
	all    report.Findings
	failed bool
}

// lintDirs lints every loaded policy with its directory's settings and applies baselines:
// directories sharing a baseline file are matched against it together, so an entry is stale
// only when no directory has its finding. writeBaseline, when set, records every finding.
func lintDirs(stdout, stderr io.Writer, runs []dirRun, policies []*policy.Policy, loadErrs [][]report.LoadError, writeBaseline string) (*lintResult, error) {
	found := make([][]lint.Finding, len(runs))
	byBaseline := map[string][]int{}
	var baselines []string
	for i, r := range runs {
		if policies[i] == nil {
			continue
		}
		found[i] = lint.Run(policies[i], lint.Options{Checks: r.checks, NoInlineSuppressions: !r.settings.InlineSuppressions.V, Severities: r.severities})
		if b := r.settings.Baseline.V; b != "" {
			if byBaseline[b] == nil {
				baselines = append(baselines, b)
			}
			byBaseline[b] = append(byBaseline[b], i)
		}
	}
	var stale []report.StaleEntry
	for _, path := range baselines {
		b, err := lint.ReadBaseline(path)
		if err != nil {
			return nil, inputError(err)
		}
		if b.Notice != "" {
			fmt.Fprintf(stderr, "agentctl: %s\n", b.Notice)
		}
		var group []lint.Finding
		var ran []*lint.Check
		for _, i := range byBaseline[path] {
			group = append(group, found[i]...)
			ran = unionChecks(ran, runs[i].checks)
		}
		for _, e := range b.Apply(group, ran) {
			stale = append(stale, report.StaleEntry{Check: e.Check, Element: e.Element})
			fmt.Fprintf(stderr, "agentctl: %s: stale baseline entry %s %s: no such finding any more, remove it\n", path, e.Check, e.Name())
		}
		for _, i := range byBaseline[path] {
			found[i], group = group[:len(found[i])], group[len(found[i]):]
		}
	}
	if writeBaseline != "" {
		b := lint.NewBaseline(slices.Concat(found...))
		dirs := make([]string, len(runs))
		for i, r := range runs {
			dirs[i] = r.dir
		}
		if err := writeBaselineFile(stdout, writeBaseline, b, dirs); err != nil {
			return nil, inputError(err)
		}
		for i := range found {
			b.Apply(found[i], runs[i].checks)
		}
		fmt.Fprintf(stderr, "agentctl: wrote %s: %d baseline entries\n", writeBaseline, len(b.Findings))
	}
	v, _, _ := buildVersion()
	res := &lintResult{perDir: make([]report.Findings, len(runs))}
	var ran []*lint.Check
	for i, r := range runs {
		ran = unionChecks(ran, r.checks)
		res.all.LoadErrors = append(res.all.LoadErrors, loadErrs[i]...)
		if policies[i] == nil {
			continue
		}
		res.failed = res.failed || lint.Failed(found[i], r.failOn)
		d := report.Findings{Rules: report.LintRules(r.checks), Findings: report.LintFindings(found[i], r.failOn),
			Files: policies[i].Files, FailOn: r.failOn.String(), Version: v}
		res.perDir[i] = d
		res.all.Findings = append(res.all.Findings, d.Findings...)
		res.all.Files = append(res.all.Files, d.Files...)
	}
	res.all.Rules = report.LintRules(ran)
	res.all.FailOn = runs[0].failOn.String()
	res.all.Stale = stale
	res.all.Version = v
	sortFindings(res.all.Findings)
	return res, nil
}

// unionChecks adds the checks of b missing from a, keeping registry order.
func unionChecks(a, b []*lint.Check) []*lint.Check {
	var out []*lint.Check
	for _, c := range lint.Checks() {
		if slices.Contains(a, c) || slices.Contains(b, c) {
			out = append(out, c)
		}
	}
	return out
}

// sortFindings orders findings of several directories by file, line, column and check.
func sortFindings(fs []report.Finding) {
	slices.SortStableFunc(fs, func(a, b report.Finding) int {
		if a.File != b.File {
			return strings.Compare(a.File, b.File)
		}
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		if a.Column != b.Column {
			return a.Column - b.Column
		}
		return strings.Compare(a.Check, b.Check)
	})
}

// repoRoot is the root locations are made relative to: root (--root), else the git
// top-level of dir, the first policy directory ("" outside a repository: paths stay as
// given).
func repoRoot(root, dir string) (string, error) {
	if root != "" {
		abs, err := absDir(root)
		if err != nil {
			return "", inputError(fmt.Errorf("--root: %w", err))
		}
		return abs, nil
	}
	return config.RepoRoot(dir), nil
}

func absDir(dir string) (string, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return "", err
	}
	if !info.IsDir() {
		return "", fmt.Errorf("%s is not a directory", dir)
	}
	return filepath.Abs(dir)
}

// colorOn decides whether to colour output written to w.
func (f *gateFlags) colorOn(w io.Writer) (bool, error) {
	switch f.color {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto", "": // "": lint, which has no --color
		return os.Getenv("NO_COLOR") == "" && isTerminal(w), nil
	}
	return false, inputError(fmt.Errorf("--color %q: want auto, always or never", f.color))
}
