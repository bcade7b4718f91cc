package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// plainBool hides pflag's IsBoolFlag so help shows "--verify" instead of
// "--verify[=true|false]"; NoOptDefVal "true" keeps "--verify" and "--verify=false" working.
type plainBool struct{ pflag.Value }

// plainBoolFlags rewrites the boolean flags of cmd and its subcommands (help and version
// included) for help output.
func plainBoolFlags(cmd *cobra.Command) {
	cmd.InitDefaultHelpFlag()
	if cmd.Version != "" {
		cmd.InitDefaultVersionFlag()
	}
	for _, fs := range []*pflag.FlagSet{cmd.Flags(), cmd.PersistentFlags()} {
		fs.VisitAll(func(f *pflag.Flag) {
			if f.Value.Type() == "bool" {
				if _, done := f.Value.(plainBool); !done {
					f.Value = plainBool{f.Value}
					f.NoOptDefVal = "true"
				}
			}
		})
	}
	for _, c := range cmd.Commands() {
		plainBoolFlags(c)
	}
}

// checkFormat rejects an output format that is not one of formats.
func checkFormat(format string, formats ...string) error {
	if slices.Contains(formats, format) {
		return nil
	}
	return fmt.Errorf("unknown output format %q (want %s)", format, wordList(formats, "or"))
}

// wordList writes "a, b or c" (conj "or") or "a, b and c".
func wordList(items []string, conj string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " " + conj + " " + items[len(items)-1]
}
