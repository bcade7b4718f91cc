package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/agentctl/agentctl/config"
	"github.com/agentctl/agentctl/gate"
	"github.com/agentctl/agentctl/internal/outfile"
	"github.com/agentctl/agentctl/lint"
	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/report"
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
var gateFormats = []string{"table", "json", "sarif", "junit", "github", "compact"}

// lineFormat reports whether a format is written line by line (table, github, compact), so
// that several such outputs and the verdict may share stdout; the others are documents.
func lineFormat(format string) bool {
	return format == "table" || format == "github" || format == "compact"
}

// register adds the selection flags, the repeatable -o and --root.
func (f *gateFlags) register(fl *pflag.FlagSet) {
	f.hasOutputs = true
	fl.StringArrayVarP(&f.outputs, "output", "o", nil, "output `FORMAT[=FILE]`, repeatable: "+strings.Join(gateFormats, ", ")+"; a format alone goes to stdout (default: output of "+config.FileName+", else table)")
	fl.StringVar(&f.root, "root", "", "repository root that SARIF, GitHub and JUnit locations are relative to (default: the git top-level)")
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

// overrides are the flags the user set, which replace the configuration's settings.
func (f *gateFlags) overrides(cmd *cobra.Command) (gate.Overrides, error) {
	fl := cmd.Flags()
	inline := !f.noInline
	o := gate.Overrides{FailOn: ifChanged(fl, "fail-on", &f.failOn), Checks: ifChanged(fl, "checks", &f.checks),
		Skip: ifChanged(fl, "skip", &f.skip), Baseline: ifChanged(fl, "baseline", &f.baseline),
		InlineSuppressions: ifChanged(fl, "no-inline-suppressions", &inline)}
	if f.hasOutputs {
		o.Output = ifChanged(fl, "output", &f.outputs)
	}
	var err error
	o.EvalTimeout, err = evalTimeoutOverride(cmd)
	return o, err
}

// ifChanged is v when the user set the flag name, else nil (the configuration's setting
// stands).
func ifChanged[T any](fl *pflag.FlagSet, name string, v *T) *T {
	if fl.Changed(name) {
		return v
	}
	return nil
}

// settings resolves the effective configuration of every directory (gate.Settings).
func (f *gateFlags) settings(cmd *cobra.Command, dirs []string) ([]gate.Dir, error) {
	o, err := f.overrides(cmd)
	if err != nil {
		return nil, err
	}
	runs, err := gate.Settings(cmd.ErrOrStderr(), dirs, f.config, f.root, o)
	return runs, gateError(err)
}

// loadConfig loads a configuration file, printing its errors (gate.LoadConfig).
func loadConfig(stderr io.Writer, path, root string) (*config.File, error) {
	file, err := gate.LoadConfig(stderr, path, root)
	return file, gateError(err)
}

// gateError maps the gate's input errors to exit status 2.
func gateError(err error) error {
	var ie *gate.InputError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ie) && ie.Printed:
		return errInputPrinted
	case errors.As(err, &ie):
		return inputError(ie.Err)
	}
	return err
}

// gateRun is a lint or check run after its settings, outputs and root are resolved, its
// directories loaded and the loaded ones linted.
type gateRun struct {
	runs     []gate.Dir
	outs     []output
	root     string
	policies []*policy.Policy     // nil where a directory did not load
	loadErrs [][]report.LoadError // by directory
	lint     *gate.LintResult
}

// lintAll resolves the settings of dirs, validates the outputs, then loads
// and lints every directory (recording every finding in writeBaseline when set). Input
// errors come first, before any directory is read.
func (f *gateFlags) lintAll(cmd *cobra.Command, dirs []string, writeBaseline string) (*gateRun, error) {
	var (
		g   gateRun
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
		timeouts[i] = r.Settings.EvalTimeout.V
	}
	if g.policies, g.loadErrs, err = loadEach(cmd.ErrOrStderr(), dirs, timeouts); err != nil {
		return nil, err
	}
	v, _, _ := buildVersion()
	g.lint, err = gate.Lint(g.runs, g.policies, g.loadErrs, gate.LintOptions{
		Root: g.root, WriteBaseline: writeBaseline, Version: v, Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()})
	if err != nil {
		return nil, gateError(err)
	}
	return &g, nil
}

// gateInputs checks, before any policy is loaded, that each directory runs some check, the
// outputs and the configured baselines (a baseline that is not a regular file, or too large,
// is refused without reading it; one that does not exist yet is left to the lint stage,
// which writes it or says how to).
func gateInputs(runs []gate.Dir) ([]output, error) {
	dirs := make([]string, len(runs))
	for i, r := range runs {
		if err := r.NoCheck(); err != nil {
			return nil, gateError(err)
		}
		dirs[i] = r.Dir
	}
	outs, err := parseOutputs(runs[0].Settings.Output.V, gateFormats, dirs)
	if err != nil {
		return nil, inputError(err)
	}
	for _, r := range runs {
		if b := r.Settings.Baseline.V; b != "" {
			if _, err := lint.ReadBaseline(b); err != nil && !errors.Is(err, lint.ErrNoBaseline) {
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
// (table, github, compact) may share stdout, in the order given; a document (json, sarif, junit) on
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
			if !lineFormat(o.format) {
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

// loadEach loads every directory within its budget (gate.Load), with a spinner on a terminal.
func loadEach(stderr io.Writer, dirs []string, timeouts []time.Duration) ([]*policy.Policy, [][]report.LoadError, error) {
	policies, loadErrs, err := gate.Load(stderr, dirs, timeouts, func(label string) func() { return busy(stderr, label) })
	return policies, loadErrs, gateError(err)
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
