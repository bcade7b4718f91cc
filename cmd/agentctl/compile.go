package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/internal/outfile"
)

func newCompileCmd() *cobra.Command {
	var (
		out     string
		verify  bool
		keyFile string
		signing compile.Signing
	)
	cmd := &cobra.Command{
		Use:   "compile [DIR] [-o bundle.tar.gz|-] [--verify] [--signing-key FILE]",
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
the policy directory being compiled other than an earlier agentctl bundle (recognised by
its manifest).

--signing-key signs the bundle with OPA's own bundle signing code (.signatures.json), as
'opa build --signing-key' does, so that an OPA configured with the matching verification
key (opa run --verification-key, or keys: and bundles.NAME.signing in its configuration)
refuses a bundle anyone else wrote or changed. The key file holds a PEM private key (RSA:
RS256 by default; EC: ES256, ES384 or ES512 by its curve) or an HMAC secret (HS256 by
default; the file's exact bytes). RS and HS signatures keep the bundle byte-reproducible;
ES and PS signatures are randomised.`,
		Example: "  agentctl compile -o bundle.tar.gz\n  agentctl compile scenarios/support-refunds -o refunds.tar.gz --verify\n  agentctl compile -o - | ssh bundles@host 'cat > agents.tar.gz'\n  opa run --server --bundle refunds.tar.gz\n" +
			"  agentctl compile -o bundle.tar.gz --signing-key private.pem --signing-key-id agentctl\n  opa run --server --bundle bundle.tar.gz --verification-key public.pem --verification-key-id agentctl",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return inputError(fmt.Errorf("-o needs a file name"))
			}
			dir, err := policyDir(cmd, args)
			if err != nil {
				return err
			}
			// The policy directory's own files are never replaced, except an earlier bundle.
			dest := outfile.Options{Protect: []string{dir}, Ours: compile.IsArchive}
			if err := outfile.Check(out, dest); err != nil {
				return inputError(err)
			}
			sign := keyFile != ""
			if sign {
				var err error
				if signing.Key, err = readKey(keyFile); err != nil {
					return inputError(err)
				}
				if signing.Algorithm, err = signing.Check(); err != nil {
					return inputError(fmt.Errorf("--signing-key %s: %w", keyFile, err))
				}
			} else if signing.Algorithm != "" || signing.KeyID != "" || signing.ClaimsFile != "" {
				return inputError(fmt.Errorf("--signing-alg, --signing-key-id and --claims-file need --signing-key"))
			}
			p, err := loadOne(cmd, dir)
			if err != nil {
				return err
			}
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
			if sign {
				if err := compile.Sign(b, signing); err != nil {
					return inputError(fmt.Errorf("--signing-key %s: %w", keyFile, err))
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
			if sign {
				note += ", signed " + signing.Algorithm
				if signing.KeyID != "" {
					note += " key " + signing.KeyID
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: revision %s, %s, %s%s\n", shown, b.Manifest.Revision,
				plural(len(p.Agents), "agent"), plural(len(p.Tests), "test"), note)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "bundle.tar.gz", "bundle file to write (- for standard output)")
	cmd.Flags().BoolVar(&verify, "verify", false, "run the generated tests and a differential check before writing")
	cmd.Flags().StringVar(&keyFile, "signing-key", "", "sign the bundle with this PEM private key or HMAC secret file")
	cmd.Flags().StringVar(&signing.Algorithm, "signing-alg", "", "JWS algorithm: "+strings.Join(compile.SigningAlgorithms(), ", ")+" (default from the key: RS256, ES256/384/512, HS256)")
	cmd.Flags().StringVar(&signing.KeyID, "signing-key-id", "", "key id of the signing key (the keyid OPA verifies with)")
	cmd.Flags().StringVar(&signing.ClaimsFile, "claims-file", "", "JSON file of extra claims for the signature")
	return cmd
}

// maxKeyFile bounds a signing key file: keys and secrets are a few kilobytes.
const maxKeyFile = 1 << 20

// readKey reads a signing key file: a regular file of at most maxKeyFile bytes.
func readKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--signing-key: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("--signing-key %s: not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("--signing-key %s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("--signing-key %s: larger than %d bytes: not a key", path, maxKeyFile)
	}
	return data, nil
}
