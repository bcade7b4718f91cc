// Package gate is the pipeline `agentctl lint` and `agentctl check` share: it resolves each
// policy directory's settings (defaults, the repository configuration, then the command
// line; `agentctl diff` resolves its HEAD directories' with it too), loads every directory,
// lints the ones that loaded and applies baselines. The command wires flags, outputs and
// exit codes around it.
package gate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/agentctl/agentctl/config"
	"github.com/agentctl/agentctl/internal/outfile"
	"github.com/agentctl/agentctl/lint"
	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/report"
	"github.com/agentctl/agentctl/schema"
)

// InputError is an error about the input or the invocation (exit status 2). Printed is set
// when its details were already written to stderr (configuration or load errors with
// their positions).
type InputError struct {
	Err     error
	Printed bool
}

func (e *InputError) Error() string {
	if e.Err == nil {
		return "input error (printed)"
	}
	return e.Err.Error()
}

func (e *InputError) Unwrap() error { return e.Err }

func inputError(err error) error { return &InputError{Err: err} }

var errPrinted = &InputError{Printed: true}

// Overrides are the settings given on the command line: each non-nil one replaces the
// configuration's, with Source (e.g. "flag --fail-on") as where it came from.
type Overrides struct {
	FailOn *string
	// FailOnFlag is the flag FailOn comes from, for messages: "--fail-on" when empty (diff's
	// is --severity).
	FailOnFlag         string
	Checks, Skip       *[]string
	Baseline           *string
	InlineSuppressions *bool
	Output             *[]string
	EvalTimeout        *time.Duration
}

// Dir is one policy directory with its effective settings.
type Dir struct {
	Dir      string
	File     *config.File // the configuration file applied, nil for none
	Settings config.Settings
	FailOn   lint.Severity
	// Checks are the checks to run, empty when the selection skips every one (lint and check
	// refuse that; diff reports no finding).
	Checks     []*lint.Check
	Severities map[string]lint.Severity
}

// LintOptions are the lint options of the directory: its checks, severities and inline
// suppressions.
func (d Dir) LintOptions() lint.Options {
	return lint.Options{Checks: d.Checks, NoInlineSuppressions: !d.Settings.InlineSuppressions.V, Severities: d.Severities}
}

// Settings resolves the effective configuration of every directory: defaults, the
// configuration file (configPath, else the nearest one), then the overrides. Problems are
// InputErrors; configuration errors are printed to stderr with their positions.
func Settings(stderr io.Writer, dirs []string, configPath, root string, o Overrides) ([]Dir, error) {
	files := map[string]*config.File{}
	var out []Dir
	for _, dir := range dirs {
		file, s, err := settingsFor(stderr, dir, configPath, root, o, files)
		if err != nil {
			return nil, err
		}
		r := Dir{Dir: dir, File: file, Settings: s, Severities: map[string]lint.Severity{}}
		if r.FailOn, err = lint.ParseSeverity(s.FailOn.V); err != nil {
			return nil, inputError(fmt.Errorf("%s: fail_on: %w", s.FailOn.Source, err))
		}
		// The configuration file names only known checks (config.Load checks them), so an
		// unknown one comes from a flag: say which.
		if _, err := lint.Select(s.Enable.V, nil); err != nil {
			return nil, inputError(fmt.Errorf("%s: %w", setting(s.Enable.Source, "checks.enable"), err))
		}
		if _, err := lint.Select(nil, s.Skip.V); err != nil {
			return nil, inputError(fmt.Errorf("%s: %w", setting(s.Skip.Source, "checks.skip"), err))
		}
		if r.Checks, err = lint.Select(s.Enable.V, s.Skip.V); err != nil {
			return nil, inputError(err)
		}
		for _, name := range s.SeverityKeys() {
			sev, err := lint.ParseSeverity(s.Severity[name].V)
			if err != nil {
				return nil, inputError(fmt.Errorf("%s: %w", s.Severity[name].Source, err))
			}
			r.Severities[lint.Lookup(name).ID] = sev
		}
		out = append(out, r)
	}
	return out, nil
}

// NoCheck is the error of a directory whose selection leaves no check to run (nil when
// some check runs), naming where checks.skip and checks.enable come from: lint and check
// refuse such a directory.
func (d Dir) NoCheck() error {
	if len(d.Checks) > 0 {
		return nil
	}
	s := d.Settings
	// Every check is skipped, so checks.skip is set; checks.enable may be the default (all).
	msg := setting(s.Skip.Source, "checks.skip") + " skips every check"
	if s.Enable.Source != config.Default {
		enable, ok := strings.CutPrefix(s.Enable.Source, flagSource)
		if !ok {
			enable = "checks.enable (" + s.Enable.Source + ")"
		}
		msg += " that " + enable + " enables"
	}
	return inputError(errors.New(msg + ": no check left to run"))
}

// flagSource starts the source of a setting given on the command line.
const flagSource = "flag "

// setting names a setting for an error: the flag ("--skip"), or its position in the
// configuration file and its key ("file:line:col: checks.skip").
func setting(source, key string) string {
	if flag, ok := strings.CutPrefix(source, flagSource); ok {
		return flag
	}
	return source + ": " + key
}

// settingsFor applies the configuration file of dir (loaded once per path into files) and
// the overrides.
func settingsFor(stderr io.Writer, dir, configPath, root string, o Overrides, files map[string]*config.File) (*config.File, config.Settings, error) {
	path := configPath
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
			if file, err = LoadConfig(stderr, path, root); err != nil {
				return nil, config.Settings{}, err
			}
			files[path] = file
		}
	}
	s, err := file.For(dir)
	if err != nil {
		return nil, s, inputError(err)
	}
	if o.FailOn != nil {
		flag := o.FailOnFlag
		if flag == "" {
			flag = "--fail-on"
		}
		if _, err := lint.ParseSeverity(*o.FailOn); err != nil {
			return nil, s, inputError(fmt.Errorf("%s: %w", flag, err))
		}
		s.FailOn = config.Value[string]{V: *o.FailOn, Source: flagSource + flag}
	}
	if o.Checks != nil {
		s.Enable = config.Value[[]string]{V: *o.Checks, Source: flagSource + "--checks"}
	}
	if o.Skip != nil {
		s.Skip = config.Value[[]string]{V: *o.Skip, Source: flagSource + "--skip"}
	}
	if o.Baseline != nil {
		s.Baseline = config.Value[string]{V: *o.Baseline, Source: flagSource + "--baseline"}
	}
	if o.InlineSuppressions != nil {
		s.InlineSuppressions = config.Value[bool]{V: *o.InlineSuppressions, Source: flagSource + "--no-inline-suppressions"}
	}
	if o.Output != nil {
		s.Output = config.Value[[]string]{V: *o.Output, Source: flagSource + "--output"}
	}
	if o.EvalTimeout != nil {
		s.EvalTimeout = config.Value[time.Duration]{V: *o.EvalTimeout, Source: flagSource + "--eval-timeout"}
	}
	return file, s, nil
}

// LoadConfig loads a configuration file and checks the files it names against the
// repository root (root, else the git top-level). Its errors, one per line with
// file:line:col, are printed to stderr as they are (an InputError with Printed set).
func LoadConfig(stderr io.Writer, path, root string) (*config.File, error) {
	file, err := config.Load(path)
	if err == nil {
		err = file.CheckPaths(root)
	}
	var errs config.Errors
	switch {
	case errors.As(err, &errs):
		fmt.Fprintln(stderr, errs.Error())
		return nil, errPrinted
	case err != nil:
		return nil, inputError(err)
	}
	return file, nil
}

// Load loads every directory within its evaluation budget (timeouts, by directory; nil or
// zero: the default); a directory that fails to load has a nil policy and its errors, which
// are printed to stderr, so the others can still be checked. busy, when not nil, shows
// progress while a directory loads.
func Load(stderr io.Writer, dirs []string, timeouts []time.Duration, busy func(label string) (stop func())) ([]*policy.Policy, [][]report.LoadError, error) {
	policies := make([]*policy.Policy, len(dirs))
	loadErrs := make([][]report.LoadError, len(dirs))
	for i, dir := range dirs {
		stop := func() {}
		if busy != nil {
			stop = busy("loading " + dir)
		}
		var budget time.Duration
		if timeouts != nil {
			budget = timeouts[i]
		}
		p, err := schema.LoadWith(dir, schema.Options{EvalTimeout: budget})
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

// LintResult is the lint stage over every directory that loaded.
type LintResult struct {
	PerDir []report.Findings // by directory, empty where it did not load
	All    report.Findings
	Failed bool
}

// LintOptions are the inputs of Lint beyond the directories.
type LintOptions struct {
	Root          string // repository root that baseline entries name directories relative to
	WriteBaseline string // when set, record every finding in this baseline file
	Version       string // the agentctl version, for SARIF
	Stdout        io.Writer
	Stderr        io.Writer // notices, stale entries, the baseline written
}

// Lint lints every loaded policy with its directory's settings and applies baselines.
// Baseline entries are scoped by policy directory (relative to Root): an entry matches
// findings of its own directory only, and is stale only when its directory was linted and
// has no such finding. WriteBaseline, when set, records every finding (keeping the entries
// of the directories not linted), and a configured baseline that does not exist yet is not
// read: it is being written.
func Lint(runs []Dir, policies []*policy.Policy, loadErrs [][]report.LoadError, o LintOptions) (*LintResult, error) {
	found := make([][]lint.Finding, len(runs))
	byBaseline := map[string][]int{}
	var baselines []string
	for i, r := range runs {
		if policies[i] == nil {
			continue
		}
		found[i] = lint.Run(policies[i], r.LintOptions())
		if b := r.Settings.Baseline.V; b != "" {
			if byBaseline[b] == nil {
				baselines = append(baselines, b)
			}
			byBaseline[b] = append(byBaseline[b], i)
		}
	}
	groups := func(path string, which []int) []lint.DirFindings {
		var out []lint.DirFindings
		for _, i := range which {
			if policies[i] != nil {
				out = append(out, lint.DirFindings{Dir: BaselineDir(o.Root, path, runs[i].Dir), Findings: found[i], Ran: runs[i].Checks})
			}
		}
		return out
	}
	var stale []report.StaleEntry
	for _, path := range baselines {
		b, err := lint.ReadBaseline(path)
		switch {
		case errors.Is(err, lint.ErrNoBaseline) && o.WriteBaseline != "":
			continue // nothing accepted yet: the run records the baseline
		case errors.Is(err, lint.ErrNoBaseline):
			src := runs[byBaseline[path][0]].Settings.Baseline.Source
			return nil, inputError(fmt.Errorf("baseline %s (%s) does not exist: record today's findings with: agentctl lint --write-baseline %s", path, src, path))
		case err != nil:
			return nil, inputError(err)
		}
		if b.Notice != "" {
			fmt.Fprintf(o.Stderr, "agentctl: %s\n", b.Notice)
		}
		for _, e := range b.ApplyDirs(groups(path, byBaseline[path])) {
			stale = append(stale, report.StaleEntry{Dir: e.Dir, Check: e.Check, Element: e.Element})
			in := ""
			if e.Dir != "" {
				in = " in " + e.Dir
			}
			fmt.Fprintf(o.Stderr, "agentctl: %s: stale baseline entry %s %s%s: no such finding any more, remove it\n", path, e.Check, e.Name(), in)
		}
	}
	if o.WriteBaseline != "" {
		all := make([]int, len(runs))
		for i := range all {
			all[i] = i
		}
		dirs := groups(o.WriteBaseline, all)
		// Rewriting a version 3 file keeps the entries of directories this run did not lint.
		keep, _ := lint.ReadBaseline(o.WriteBaseline)
		b := lint.NewBaseline(dirs, keep)
		policyDirs := make([]string, len(runs))
		for i, r := range runs {
			policyDirs[i] = r.Dir
		}
		if err := writeBaselineFile(o.Stdout, o.WriteBaseline, b, policyDirs); err != nil {
			return nil, inputError(err)
		}
		b.ApplyDirs(dirs)
		fmt.Fprintf(o.Stderr, "agentctl: wrote %s: %d baseline entries\n", o.WriteBaseline, len(b.Findings))
	}
	res := &LintResult{PerDir: make([]report.Findings, len(runs))}
	var ran []*lint.Check
	for i, r := range runs {
		ran = unionChecks(ran, r.Checks)
		res.All.LoadErrors = append(res.All.LoadErrors, loadErrs[i]...)
		if policies[i] == nil {
			continue
		}
		res.Failed = res.Failed || lint.Failed(found[i], r.FailOn)
		d := report.Findings{Rules: report.LintRules(r.Checks), Findings: report.LintFindings(found[i], r.FailOn),
			Files: policies[i].Files, FailOn: r.FailOn.String(), Version: o.Version}
		res.PerDir[i] = d
		res.All.Findings = append(res.All.Findings, d.Findings...)
		res.All.Files = append(res.All.Files, d.Files...)
	}
	res.All.Rules = report.LintRules(ran)
	res.All.FailOn = runs[0].FailOn.String()
	res.All.Stale = stale
	res.All.Version = o.Version
	sortFindings(res.All.Findings)
	return res, nil
}

// writeBaselineFile writes the baseline through outfile: the baseline usually lives in the
// policy directory and is rewritten there, but no other file of the policy directories dirs
// (a README) is replaced.
func writeBaselineFile(stdout io.Writer, path string, b *lint.Baseline, dirs []string) error {
	var buf bytes.Buffer
	if err := b.Write(&buf); err != nil {
		return fmt.Errorf("write baseline %s: %w", path, err)
	}
	return outfile.Write(stdout, path, buf.Bytes(), outfile.Options{Protect: dirs, Ours: lint.IsBaseline})
}

// BaselineDir is how a baseline names the policy directory dir: relative to the repository
// root in slash form ("." for the root itself), or, outside a repository, relative to the
// directory of the baseline file, so the name does not depend on the working directory.
func BaselineDir(root, baselinePath, dir string) string {
	if root == "" {
		root = filepath.Dir(baselinePath)
	}
	absRoot, err1 := filepath.Abs(root)
	abs, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return filepath.ToSlash(filepath.Clean(dir))
	}
	if r, err := filepath.EvalSymlinks(absRoot); err == nil {
		absRoot = r
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	rel, err := filepath.Rel(absRoot, abs)
	if err != nil {
		return filepath.ToSlash(abs)
	}
	return filepath.ToSlash(rel)
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
