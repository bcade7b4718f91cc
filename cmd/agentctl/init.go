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
	var schemaOnly bool
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Write a starter policy",
		Long: `Init writes a small, commented starter policy to DIR (default: the current directory),
plus ` + schema.CopyName + ` and cue.mod/module.cue. It refuses to overwrite existing files.

` + schema.CopyName + ` is the agentctl schema in the policy's own package with #Policy
embedded at its root, so cue vet, cue eval and the CUE language server report the same
schema errors as agentctl vet, offline and without imports. agentctl skips that file and
applies the schema built into it; agentctl vet says when the copy is out of date.

--schema writes (or refreshes) only the schema copy, in the package of DIR's policy: for a
policy written by hand, or after upgrading agentctl.`,
		Example: "  agentctl init policies/agents && agentctl check policies/agents\n  agentctl init --schema policies/agents",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := policyDir(cmd, args)
			if err != nil {
				return err
			}
			if schemaOnly {
				path, err := schema.WriteCopy(dir)
				if err != nil {
					return inputError(err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s\n", path)
				return nil
			}
			files, err := schema.Starter()
			if err != nil {
				return err
			}
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
	cmd.Flags().BoolVar(&schemaOnly, "schema", false, "write or refresh only "+schema.CopyName+" in an existing policy directory")
	return cmd
}
