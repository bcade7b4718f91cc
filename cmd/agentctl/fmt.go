package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rogpeppe/go-internal/diff"
	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/internal/outfile"
	"github.com/agentctl/agentctl/schema"
)

func newFmtCmd() *cobra.Command {
	var check, showDiff bool
	cmd := &cobra.Command{
		Use:   "fmt [--check] [--diff] [PATH...]",
		Short: "Format policy files with CUE's formatter",
		Long: `Fmt rewrites policy files in CUE's standard format, exactly as cue fmt does (the same
formatter package), and prints the name of each file it changed. A PATH is a .cue file, a
policy directory (every .cue file in it) or DIR/... (every policy directory under DIR,
skipping testdata, vendor, node_modules and hidden directories); the default is the current
directory. Other files (a README.md a shell glob names) are skipped with a note on stderr.

--diff changes nothing and prints a unified diff of what formatting would change. --check
changes nothing: it prints the files that are not formatted (or, with --diff, their diffs)
and exits 1 if there is any (for CI and pre-commit). A file that does not parse is reported
as file:line:col and the exit status is 2.`,
		Example: "  agentctl fmt\n  agentctl fmt --check ./...\n  agentctl fmt --diff policies/hr/policy.cue",
		RunE: func(cmd *cobra.Command, args []string) error {
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			files, broken := fmtFiles(stderr, args)
			changed := false
			for _, path := range files {
				src, out, err := formatted(path)
				switch {
				case err != nil:
					fmt.Fprintf(stderr, "agentctl: %v\n", err)
					broken = true
					continue
				case bytes.Equal(src, out):
					continue
				}
				changed = true
				switch {
				case showDiff:
					stdout.Write(diff.Diff(path+".orig", src, path, out))
					continue
				case !check:
					// Atomically, keeping the mode, like every file agentctl writes: an
					// interrupted fmt never leaves half a policy file.
					if err := outfile.Write(io.Discard, path, out, outfile.Options{CUE: true}); err != nil {
						fmt.Fprintf(stderr, "agentctl: %v\n", err)
						broken = true
						continue
					}
				}
				fmt.Fprintln(stdout, path)
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
	cmd.Flags().BoolVar(&showDiff, "diff", false, "change nothing; print a unified diff of what formatting would change")
	return cmd
}

// fmtFiles resolves fmt's arguments to the .cue files to format, in order, each once.
// Problems (a missing directory) are printed; broken is set when there was any.
func fmtFiles(stderr io.Writer, args []string) (files []string, broken bool) {
	if len(args) == 0 {
		args = []string{"."}
	}
	seen := map[string]bool{}
	add := func(path string) {
		if key := filepath.Clean(path); !seen[key] {
			seen[key] = true
			files = append(files, path)
		}
	}
	for _, arg := range args {
		if info, err := os.Stat(arg); err == nil && info.Mode().IsRegular() {
			if schema.IsPolicyFile(filepath.Base(arg)) {
				add(arg)
			} else {
				fmt.Fprintf(stderr, "agentctl: %s: not a policy file, skipped\n", arg)
			}
			continue
		}
		dirs, _, err := schema.ExpandDirs([]string{arg})
		if err != nil {
			fmt.Fprintf(stderr, "agentctl: %v\n", err)
			broken = true
			continue
		}
		for _, dir := range dirs {
			names, err := schema.PolicyFiles(dir)
			if err != nil {
				fmt.Fprintf(stderr, "agentctl: %v\n", err)
				broken = true
				continue
			}
			for _, n := range names {
				add(n)
			}
		}
	}
	return files, broken
}

// formatted returns the file's text and its formatted text.
func formatted(path string) (src, out []byte, err error) {
	if src, err = os.ReadFile(path); err != nil {
		return nil, nil, err
	}
	out, err = schema.Format(path, src)
	return src, out, err
}
