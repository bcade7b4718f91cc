package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/config"
	"github.com/agentctl/agentctl/schema"
)

// evalTimeoutFlag bounds the evaluation of each policy directory.
const evalTimeoutFlag = "eval-timeout"

// loadingCommands are the commands that load policy directories, and so take --eval-timeout
// (watch passes check's flags on, after --).
var loadingCommands = []string{"check", "compile", "config", "diff", "explain", "graph", "import mcp", "lint", "replay", "simulate", "test", "vet"}

// registerEvalTimeout adds --eval-timeout to the commands that load policies.
func registerEvalTimeout(root *cobra.Command) {
	var visit func(c *cobra.Command, path string)
	visit = func(c *cobra.Command, path string) {
		if slices.Contains(loadingCommands, path) {
			c.Flags().Duration(evalTimeoutFlag, 0, fmt.Sprintf("stop evaluating a policy directory after this long, exit status 2 (default: limits.evaluation_timeout of %s, else %s)", config.FileName, schema.DefaultEvalTimeout))
		}
		for _, sub := range c.Commands() {
			visit(sub, strings.TrimSpace(path+" "+sub.Name()))
		}
	}
	visit(root, "")
}

// evalTimeoutFlagValue returns --eval-timeout when the user set it.
func evalTimeoutFlagValue(cmd *cobra.Command) (d time.Duration, set bool, err error) {
	fl := cmd.Flags()
	if !fl.Changed(evalTimeoutFlag) {
		return 0, false, nil
	}
	if d, err = fl.GetDuration(evalTimeoutFlag); err != nil {
		return 0, false, inputError(err)
	}
	if d <= 0 {
		return 0, false, inputError(fmt.Errorf("--%s must be positive, got %s", evalTimeoutFlag, d))
	}
	return d, true, nil
}

// evalTimeoutOverride is --eval-timeout when the user set it, else nil.
func evalTimeoutOverride(cmd *cobra.Command) (*time.Duration, error) {
	d, set, err := evalTimeoutFlagValue(cmd)
	if err != nil || !set {
		return nil, err
	}
	return &d, nil
}

// evalTimeouts returns the evaluation budget of each directory for the commands that do not
// otherwise read the configuration: --eval-timeout, else limits.evaluation_timeout of the
// directory's configuration file (which must then be valid), else the default.
func evalTimeouts(cmd *cobra.Command, dirs []string) ([]time.Duration, error) {
	out := make([]time.Duration, len(dirs))
	d, set, err := evalTimeoutFlagValue(cmd)
	if err != nil {
		return nil, err
	}
	files := map[string]*config.File{}
	for i, dir := range dirs {
		if set {
			out[i] = d
			continue
		}
		out[i] = schema.DefaultEvalTimeout
		path, err := config.Find(dir)
		if err != nil || path == "" {
			continue // a directory that does not exist is the loader's error to report
		}
		file := files[path]
		if file == nil {
			if file, err = loadConfig(cmd.ErrOrStderr(), path, ""); err != nil {
				return nil, err
			}
			files[path] = file
		}
		s, err := file.For(dir)
		if err != nil {
			return nil, inputError(err)
		}
		out[i] = s.EvalTimeout.V
	}
	return out, nil
}
