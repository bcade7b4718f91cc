package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Stamped by the release build with -ldflags "-X main.version=... -X main.commit=... -X main.date=...".
var (
	version = ""
	commit  = ""
	date    = ""
)

// buildVersion returns what was stamped, falling back to the module build info (go install
// records the module version; a source checkout records the VCS revision).
func buildVersion() (v, c, d string) {
	v, c, d = version, commit, date
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" && info.Main.Version != "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision" && c == "":
				c = s.Value
			case s.Key == "vcs.time" && d == "":
				d = s.Value
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	return v, c, d
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the agentctl version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "agentctl "+versionString())
			return err
		},
	}
}

// versionString is what `agentctl version` and `agentctl --version` print after the name.
func versionString() string {
	v, c, d := buildVersion()
	out := v
	if c != "" {
		out += " commit " + c
	}
	if d != "" {
		out += " built " + d
	}
	return out
}
