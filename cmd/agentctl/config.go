package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/config"
	"github.com/agentctl/agentctl/diff"
	"github.com/agentctl/agentctl/report"
)

// configFormats are the output formats of config.
var configFormats = []string{"table", "json"}

func newConfigCmd() *cobra.Command {
	var (
		f      gateFlags
		format string
	)
	cmd := &cobra.Command{
		Use:   "config [DIR...]",
		Short: "Print the effective configuration of policy directories and where each value comes from",
		Long: `Config prints the settings lint and check use for each policy directory (default .; DIR/...
is every policy directory under DIR) and where each value comes from: a position in the
repository configuration file, a flag, or the built-in default.

The configuration file is .agentctl.yaml, the nearest one in the directory or its parents up
to the repository root (the git top-level), or the file given with --config. It is validated
against a schema built into agentctl: an unknown key or a wrong type is an error at its
file:line:col (exit 2). Every file it names (baselines, output files) must stay inside the
repository (--root, else the git top-level) and be a regular file or one to create; config
refuses what lint and check would refuse, baselines that do not read included.
Flags given here override it, as they do for lint and check.
The keys are documented in docs/ci.md ("Repository configuration").`,
		Example: `  agentctl config
  agentctl config policies/legacy
  agentctl config ./...
  agentctl config --fail-on critical -o json policies/*`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, configFormats...); err != nil {
				return inputError(err)
			}
			dirs, err := policyDirs(cmd.ErrOrStderr(), args)
			if err != nil {
				return err
			}
			for _, d := range dirs {
				if _, err := absDir(d); err != nil {
					return inputError(err)
				}
			}
			runs, err := f.settings(cmd, dirs)
			if err != nil {
				return err
			}
			if _, err := gateInputs(runs); err != nil {
				return err
			}
			var out []configDir
			for _, r := range runs {
				var file string
				if r.File != nil {
					file = r.File.Path
				}
				out = append(out, configDir{Dir: r.Dir, File: file, Settings: settingRows(r.Settings, r.File)})
			}
			if format == "json" {
				return report.JSON(cmd.OutOrStdout(), struct {
					SchemaVersion int         `json:"schema_version"`
					Directories   []configDir `json:"directories"`
				}{report.SchemaVersion, out})
			}
			return configTable(cmd.OutOrStdout(), out)
		},
	}
	f.registerSelection(cmd.Flags())
	cmd.Flags().StringVar(&f.root, "root", "", "repository root that files named in "+config.FileName+" must stay inside (default: the git top-level)")
	cmd.Flags().StringVarP(&format, "output", "o", "table", "output format: "+wordList(configFormats, "or"))
	return cmd
}

// configDir is the effective configuration of one directory.
type configDir struct {
	Dir      string          `json:"dir"`
	File     string          `json:"config_file"` // "" when none applies
	Settings []configSetting `json:"settings"`
}

type configSetting struct {
	Key    string `json:"key"`
	Value  any    `json:"value"`
	Source string `json:"source"`
}

// settingRows lists the settings in the order of the configuration file's schema, then
// agentctl diff's gate, diff.fail_on, which is repository-wide (no overrides) and defaults
// to diff.DefaultFailOn. file may be nil.
func settingRows(s config.Settings, file *config.File) []configSetting {
	list := func(v []string) any {
		if v == nil {
			return []string{}
		}
		return v
	}
	rows := []configSetting{
		{"fail_on", s.FailOn.V, s.FailOn.Source},
		{"checks.enable", list(s.Enable.V), s.Enable.Source},
		{"checks.skip", list(s.Skip.V), s.Skip.Source},
	}
	for _, k := range s.SeverityKeys() {
		rows = append(rows, configSetting{"checks.severity." + k, s.Severity[k].V, s.Severity[k].Source})
	}
	failOn, ok := file.DiffFailOn()
	if !ok {
		failOn = config.Value[[]string]{V: diff.DefaultFailOn, Source: config.Default}
	}
	return append(rows,
		configSetting{"baseline", s.Baseline.V, s.Baseline.Source},
		configSetting{"inline_suppressions", s.InlineSuppressions.V, s.InlineSuppressions.Source},
		configSetting{"output", list(s.Output.V), s.Output.Source},
		configSetting{"limits.evaluation_timeout", s.EvalTimeout.V.String(), s.EvalTimeout.Source},
		configSetting{"diff.fail_on", failOn.V, failOn.Source},
	)
}

func configTable(w io.Writer, dirs []configDir) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, d := range dirs {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		file := d.File
		if file == "" {
			file = "none (built-in defaults)"
		}
		fmt.Fprintf(tw, "directory: %s\nconfig file: %s\n", d.Dir, file)
		fmt.Fprintln(tw, "SETTING\tVALUE\tSOURCE")
		for _, s := range d.Settings {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, showValue(s.Value), s.Source)
		}
	}
	return tw.Flush()
}

func showValue(v any) string {
	switch v := v.(type) {
	case []string:
		if len(v) == 0 {
			return "-"
		}
		return strings.Join(v, ",")
	case string:
		if v == "" {
			return "-"
		}
		return v
	}
	return fmt.Sprint(v)
}
