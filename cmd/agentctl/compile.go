package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/internal/outfile"
)

func newCompileCmd() *cobra.Command {
	var (
		out    string
		verify bool
	)
	cmd := &cobra.Command{
		Use:   "compile [DIR] [-o bundle.tar.gz|-] [--verify]",
		Short: "Compile a policy to an OPA bundle for runtime enforcement",
		Long: `Compile writes an OPA bundle that a runtime engine (an OPA server or embedded OPA)
evaluates on every tool call: query data.agentctl.decision (entrypoint agentctl/decision).

The bundle holds the fixed agentctl Rego library, data.json compiled from the policy, a
.manifest owning the "agentctl" root with the content hash as revision, and Rego tests
generated from the policy's tests (run them with 'opa test bundle.tar.gz'). Revocations are
read from data.agentctl_revocations, which operators push through OPA's Data API.

The output is byte-for-byte reproducible and written atomically. With --verify the
generated tests and a differential check against the Go reference run first; on failure
nothing is written and the exit status is 1.

-o - (or /dev/stdout) streams the bundle to standard output. A symbolic link is followed
and its target replaced. compile refuses, with exit status 2, to write to a directory, a
named pipe, a device or a socket, to overwrite a .cue file, and to overwrite any file of
the policy directory being compiled other than an earlier bundle.`,
		Example: "  agentctl compile -o bundle.tar.gz\n  agentctl compile scenarios/support-refunds -o refunds.tar.gz --verify\n  agentctl compile -o - | ssh bundles@host 'cat > agents.tar.gz'\n  opa run --server --bundle refunds.tar.gz",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return inputError(fmt.Errorf("-o needs a file name"))
			}
			dir := dirsOrDot(args)[0]
			// The policy directory's own files are never replaced, except an earlier bundle.
			dest := outfile.Options{Protect: []string{dir}, Ours: compile.IsArchive}
			if err := outfile.Check(out, dest); err != nil {
				return inputError(err)
			}
			policies, err := loadAll(cmd, []string{dir})
			if err != nil {
				return err
			}
			p := policies[0]
			b, err := compile.Bundle(p)
			if err != nil {
				return fmt.Errorf("compile %s: %w", dir, err)
			}
			if verify {
				stop := busy(cmd.ErrOrStderr(), "verifying "+dir)
				err := compile.Verify(context.Background(), p, b)
				stop()
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "agentctl: verify %s: %v\n", dir, err)
					return errPolicyFailed
				}
			}
			data, err := compile.Archive(b)
			if err != nil {
				return err
			}
			if err := outfile.Write(cmd.OutOrStdout(), out, data, dest); err != nil {
				return inputError(err)
			}
			shown := out
			if outfile.Stdout(out) {
				shown = "bundle to standard output"
			}
			note := ""
			if verify {
				note = ", verified"
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: revision %s, %s, %s%s\n", shown, b.Manifest.Revision,
				plural(len(p.Agents), "agent"), plural(len(p.Tests), "test"), note)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "bundle.tar.gz", "bundle file to write (- for standard output)")
	cmd.Flags().BoolVar(&verify, "verify", false, "run the generated tests and a differential check before writing")
	return cmd
}
