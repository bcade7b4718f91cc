package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/schema"
)

func newInitCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "init [DIR]",
		Short: "Write a starter policy",
		Long: `Init writes a small, commented starter policy to DIR (default: the current directory),
plus cue.mod/module.cue and a copy of the agentctl schema under cue.mod, so that cue tooling
and editors see the definitions. It refuses to overwrite existing files.`,
		Example: "  agentctl init policies/agents && agentctl check policies/agents",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := dirsOrDot(args)[0]
			files := schema.Starter()
			// Check every file first: init writes all of them or none.
			for _, f := range files {
				path := filepath.Join(dir, f.Name)
				if _, err := os.Lstat(path); err == nil {
					return inputError(fmt.Errorf("%s already exists; init does not overwrite files", path))
				} else if !errors.Is(err, fs.ErrNotExist) {
					return inputError(err)
				}
			}
			for _, f := range files {
				path := filepath.Join(dir, f.Name)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					return err
				}
				if err := os.WriteFile(path, f.Data, 0o644); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s\n", path)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "next: agentctl check %s\n", dir)
			return nil
		},
	}
}
