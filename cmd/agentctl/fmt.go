package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/internal/outfile"
	"github.com/agentctl/agentctl/schema"
)

func newFmtCmd() *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "fmt [--check] [DIR...]",
		Short: "Format policy files with CUE's formatter",
		Long: `Fmt rewrites every .cue file of each policy directory (default: the current directory) in
CUE's standard format, exactly as cue fmt does (the same formatter package), and prints the
name of each file it changed.

With --check it changes nothing: it prints the files that are not formatted and exits 1 if
there is any (for CI and pre-commit). A file that does not parse is reported as
file:line:col and the exit status is 2.`,
		Example: "  agentctl fmt\n  agentctl fmt --check scenarios/*",
		RunE: func(cmd *cobra.Command, args []string) error {
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			broken, changed := false, false
			for _, dir := range dirsOrDot(args) {
				files, err := schema.PolicyFiles(dir)
				if err != nil {
					fmt.Fprintf(stderr, "agentctl: %v\n", err)
					broken = true
					continue
				}
				for _, path := range files {
					did, err := formatFile(path, check)
					if err != nil {
						fmt.Fprintf(stderr, "agentctl: %v\n", err)
						broken = true
					} else if did {
						fmt.Fprintln(stdout, path)
						changed = true
					}
				}
			}
			switch {
			case broken:
				return errInputPrinted
			case check && changed:
				return errPolicyFailed
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "change nothing; list unformatted files and exit 1 if there is any")
	return cmd
}

// formatFile formats path, writing it back unless check, and reports whether it was (or,
// with check, would be) changed.
func formatFile(path string, check bool) (bool, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	out, err := schema.Format(path, src)
	if err != nil || bytes.Equal(out, src) {
		return false, err
	}
	if !check {
		// Atomically, keeping the mode, like every file agentctl writes: an interrupted
		// fmt never leaves half a policy file.
		if err := outfile.Write(io.Discard, path, out, outfile.Options{CUE: true}); err != nil {
			return false, err
		}
	}
	return true, nil
}
