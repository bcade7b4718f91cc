package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/watch"
)

func newWatchCmd() *cobra.Command {
	var debounce time.Duration
	cmd := &cobra.Command{
		Use:   "watch [DIR...] [-- CHECK-FLAGS...]",
		Short: "Re-run check whenever a policy file changes",
		Long: `Watch runs 'agentctl check' on the policy directories, then again each time one of their
.cue files is written, created, renamed or removed. A policy is the .cue files directly in
its directory: a .cue file written in a subdirectory (or named _x.cue or .x.cue) is not part
of it, and the status line says so instead of re-running check. Subdirectories are watched
as they appear; hidden directories (.git) are skipped. A policy directory that is removed
or moved away, alone or with a parent, is waited for: when it comes back (restored, moved
back, checked out again) it is watched again and check re-runs. DIR/... is every policy
directory under DIR when watch starts: a policy directory created later is watched from the
next start.

Bursts of changes (an editor saving several files, git checkout) are collapsed into one run
once the tree has been quiet for --debounce. Editor temporary files (.#x, x~, .x.swp, 4913)
and permission changes are ignored. An invalid policy is reported like 'agentctl check'
reports it, and watching goes on until the next save.

Flags after -- are passed to check (--eval-timeout included: a policy evaluation over its
budget fails that run, and goes on in the background until it ends, as CUE cannot interrupt
it). On a terminal the screen is cleared before each run.
A status line on stderr gives each run's exit status and duration. Ctrl-C (SIGINT) or
SIGTERM stops watching; the exit status is then 0.`,
		Example: "  agentctl watch\n  agentctl watch ./...\n  agentctl watch policies/agents\n  agentctl watch --debounce 300ms policies/agents",
		RunE: func(cmd *cobra.Command, args []string) error {
			dirs, checkArgs := args, []string(nil)
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				dirs, checkArgs = args[:dash], args[dash:]
			}
			dirs, err := policyDirs(cmd.ErrOrStderr(), dirs)
			if err != nil {
				return err
			}
			for _, dir := range dirs {
				fi, err := os.Stat(dir)
				if err != nil {
					return inputError(fmt.Errorf("watch %s: %w", dir, err))
				}
				if !fi.IsDir() {
					return inputError(fmt.Errorf("watch %s: not a directory", dir))
				}
			}
			if debounce <= 0 {
				return inputError(fmt.Errorf("--debounce must be positive, got %s", debounce))
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() {
				<-ctx.Done()
				stop() // a second Ctrl-C during a long check kills the process at once
			}()
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			checkCmd := append(append([]string{"check"}, checkArgs...), dirs...)
			err = watch.Watch(ctx, watch.Config{
				Dirs:     dirs,
				Debounce: debounce,
				Log:      stderr,
				Clear:    screenClearer(stdout),
				Run: func(context.Context) int {
					return run(checkCmd, stdout, stderr)
				},
			})
			if err != nil {
				return inputError(err)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&debounce, "debounce", watch.DefaultDebounce, "quiet period after the last change before check re-runs")
	return cmd
}

// screenClearer returns a function clearing the screen when w is a terminal, else nil.
func screenClearer(w io.Writer) func() {
	if !isTerminal(w) {
		return nil
	}
	return func() { fmt.Fprint(w, "\x1b[H\x1b[2J") }
}
