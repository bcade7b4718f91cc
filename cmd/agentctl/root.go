package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/progress"
	"github.com/agentctl/agentctl/schema"
)

// Exit statuses (contract): 0 pass, 1 the policy failed, 2 the input or invocation is wrong.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// exitError carries an exit status up to run. Its message, if any, has not been printed yet.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// errPolicyFailed reports a policy failure whose details were already printed.
var errPolicyFailed = &exitError{code: exitFailed}

// errInputPrinted reports bad input whose details were already printed to stderr.
var errInputPrinted = &exitError{code: exitUsage}

// inputError wraps an unprinted error about the input (bad policy, bad flag value).
func inputError(err error) error { return &exitError{code: exitUsage, err: err} }

func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			// Errors may quote what a server, a recording or a policy said: escape each line.
			fmt.Fprintf(stderr, "agentctl: %s\n", policy.EscapeLines(ee.err.Error()))
		}
		return ee.code
	}
	// cobra's own errors: unknown command or flag, wrong argument count.
	fmt.Fprintf(stderr, "agentctl: %s\nRun 'agentctl --help' for usage.\n", policy.EscapeLines(err.Error()))
	return exitUsage
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "agentctl",
		Short: "Policy-as-code for AI agents: lint, simulate and compile agent access policies",
		Long: `agentctl checks AI-agent access policies written in CUE.

It lints a policy against checks mapped to OWASP Agentic (ASI), OWASP NHI, CSA MAESTRO and
NIST AI RMF, simulates multi-agent hand-offs to find privilege multiplication and
exfiltration paths, and compiles the policy to an OPA bundle for runtime enforcement.

Policy directories are positional arguments and default to the current directory. For the
commands that take several (check, lint, vet, test, simulate, config, watch, fmt and
diff --base), DIR/... is every policy directory under DIR; the commands that take one
(graph, explain, compile, replay, gateway, init, import mcp --check) refuse it.
Exit status: 0 pass, 1 the policy failed, 2 the input or the invocation is wrong.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(
		newVersionCmd(),
		newVetCmd(),
		newInitCmd(),
		newCheckCmd(),
		newGenCmd(),
		newLintCmd(),
		newChecksCmd(),
		newSimulateCmd(),
		newGraphCmd(),
		newWatchCmd(),
		newCompileCmd(), newTestCmd(), newExplainCmd(),
		newFmtCmd(),
		newReplayCmd(),
		newImportCmd(),
		newConfigCmd(),
		newDiffCmd(),
		newGatewayCmd(),
	)
	root.Version = versionString()
	root.SetVersionTemplate("agentctl {{.Version}}\n")
	registerCompletions(root)
	registerEvalTimeout(root)
	root.InitDefaultCompletionCmd()
	plainBoolFlags(root)
	return root
}

// isTerminal reports whether w is a terminal: tables get Unicode borders, and progress is
// shown, only there.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// busy shows a spinner with the elapsed time on w while a step that may take more than a
// second runs (large estates, --verify), when w is a terminal. Call the returned function
// before printing anything.
func busy(w io.Writer, label string) (stop func()) {
	if !isTerminal(w) {
		return func() {}
	}
	return progress.Start(w, label, time.Second, 100*time.Millisecond).Stop
}

// policyDirs expands the policy directory arguments of the commands that take several
// (schema.ExpandDirs: DIR/... is every policy directory under DIR); a file that is not a
// .cue file (a README.md a shell glob names) is skipped with a note on stderr.
func policyDirs(stderr io.Writer, args []string) ([]string, error) {
	dirs, skipped, err := schema.ExpandDirs(args)
	for _, s := range skipped {
		fmt.Fprintf(stderr, "agentctl: %s: not a policy directory, skipped\n", s)
	}
	if err != nil {
		return nil, inputError(err)
	}
	return dirs, nil
}

// policyDir is the policy directory of a command that takes at most one: its argument,
// or ".". A DIR/... pattern is refused (onePolicyDir).
func policyDir(cmd *cobra.Command, args []string) (string, error) {
	if len(args) == 0 {
		return ".", nil
	}
	name := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
	if err := onePolicyDir(name, args[0]); err != nil {
		return "", err
	}
	return args[0], nil
}

// onePolicyDir refuses a DIR/... pattern where one policy directory is wanted (what names
// the command or flag), naming the directories the pattern matches (an input error).
func onePolicyDir(what, arg string) error {
	if !schema.IsRecursive(arg) {
		return nil
	}
	dirs, _, err := schema.ExpandDirs([]string{arg})
	if err != nil {
		return inputError(fmt.Errorf("%s takes one policy directory, not a pattern (%w)", what, err))
	}
	const shown = 5 // enough to recognise the estate; the rest is counted
	if len(dirs) > shown {
		dirs = append(dirs[:shown:shown], fmt.Sprintf("%d more", len(dirs)-shown))
	}
	return inputError(fmt.Errorf("%s takes one policy directory, not a pattern: %s matches %s; name one", what, arg, wordList(dirs, "and")))
}
