package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/gitrev"
	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/replay"
	"github.com/agentctl/agentctl/report"
)

type replayFlags struct {
	output, against, baseRef, engine, format, agent string
	failOn                                          []string
}

var (
	replayOutputs = []string{"table", "summary", "json", "junit", "markdown"}
	replayFailOns = []string{"deny", "flip", "not-replayable"}
)

func newReplayCmd() *cobra.Command {
	var f replayFlags
	cmd := &cobra.Command{
		Use:   "replay [DIR] TRACE... [--against BASE | --base REF] [--fail-on deny|flip|not-replayable]",
		Short: "Decide recorded agent traffic (OTLP traces, OPA decision logs, MCP logs) with the policy",
		Long: `Replay reads recorded tool calls and decides each one with the policy, as the runtime
would have: OpenTelemetry traces in OTLP JSON (the Collector's file exporter), OPA decision
logs (each logged request decided again, next to the logged decision) and MCP JSON-RPC logs
(tools/call requests). The format is detected from each file's first record unless --format
is given; "-" reads standard input.

The first argument is the policy directory when it is a directory (default "."). Tool names
map to capabilities as "tool.action", or as the action of that name on the single tool that
declares it; anything else is not replayable, with the reason. Sessions are rebuilt from the
recording: the action count and start time; the declared identity and an unexpired
credential are assumed unless the recording carries them, and the output says so.

--against BASE decides every call with the policy in directory BASE too and lists only the
calls whose outcome flips; --base REF does the same with DIR as it is at git revision REF.
See docs/replay.md.

Exit status: 0, unless a --fail-on condition holds (1); 2 for bad input.`,
		Example: `  agentctl replay scenarios/support-refunds traces.jsonl
  agentctl replay . decisions.log -o summary --fail-on deny
  agentctl replay new-policy traces.jsonl --against old-policy --fail-on flip
  agentctl replay policy traces.jsonl --base origin/main -o markdown
  agentctl replay mcp.jsonl --format mcp --agent billing -o json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.validate(); err != nil {
				return inputError(err)
			}
			if err := onePolicyDir("replay", args[0]); err != nil {
				return err
			}
			if err := onePolicyDir("--against", f.against); err != nil {
				return err
			}
			dir, traces := ".", args
			if st, err := os.Stat(args[0]); err == nil && st.IsDir() {
				dir, traces = args[0], args[1:]
			}
			if len(traces) == 0 {
				return inputError(fmt.Errorf("no trace files given (usage: agentctl replay [DIR] TRACE...)"))
			}
			return f.run(cmd, dir, traces)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.output, "output", "o", "table", "output format: "+strings.Join(replayOutputs, ", "))
	fl.StringVar(&f.against, "against", "", "a base policy directory: decide each call with both and list only the flips")
	fl.StringVar(&f.baseRef, "base", "", "a git revision: decide each call with the policy directory as it is there too and list only the flips")
	fl.StringVar(&f.engine, "engine", replay.EngineGo, "decision engine: go (the reference) or rego (the compiled bundle)")
	fl.StringVar(&f.format, "format", "", "trace format: otlp, opa or mcp (default: detected per file)")
	fl.StringVar(&f.agent, "agent", "", `MCP logs: the calling agent of messages whose _meta names none ("agentctl/agent")`)
	fl.StringSliceVar(&f.failOn, "fail-on", nil, "exit 1 when a call is denied (deny), flips (flip) or is not replayable (not-replayable); repeatable")
	return cmd
}

func (f *replayFlags) validate() error {
	if !slices.Contains(replayOutputs, f.output) {
		return fmt.Errorf("unknown output format %q (want %s)", f.output, strings.Join(replayOutputs, ", "))
	}
	for _, c := range f.failOn {
		if !slices.Contains(replayFailOns, c) {
			return fmt.Errorf("unknown --fail-on %q (want %s)", c, strings.Join(replayFailOns, ", "))
		}
	}
	if f.against != "" && f.baseRef != "" {
		return fmt.Errorf("--against and --base both name a base policy: give one")
	}
	if f.engine != replay.EngineGo && f.engine != replay.EngineRego {
		return fmt.Errorf("unknown engine %q (want go or rego)", f.engine)
	}
	if f.format != "" && !slices.Contains([]string{replay.FormatOTLP, replay.FormatOPALog, replay.FormatMCP}, f.format) {
		return fmt.Errorf("unknown trace format %q (want otlp, opa or mcp)", f.format)
	}
	return nil
}

func (f *replayFlags) run(cmd *cobra.Command, dir string, traces []string) error {
	ctx := context.Background()
	// settingsDirs are where each policy's settings come from: the revision's copy of dir has
	// dir's own, as diff --base has (a file upward from the copy is no setting of the policy).
	dirs, settingsDirs := []string{dir}, []string{dir}
	baseLabel := f.against
	if f.against != "" {
		dirs, settingsDirs = append(dirs, f.against), append(settingsDirs, f.against)
	}
	if f.baseRef != "" {
		snap, err := gitrev.Extract(ctx, f.baseRef, []string{dir})
		if err != nil {
			return inputError(err)
		}
		defer snap.Close()
		if err := snap.Absent(dir); err != nil {
			return inputError(err)
		}
		dirs, settingsDirs, baseLabel = append(dirs, snap.Dir(dir)), append(settingsDirs, dir), f.baseRef
	}
	policies, err := loadAs(cmd, dirs, settingsDirs)
	if err != nil {
		return err
	}
	side := func(p *policy.Policy) (replay.Side, error) {
		d, err := replay.NewDecider(ctx, p, f.engine)
		return replay.Side{Policy: p, Decider: d}, err
	}
	head, err := side(policies[0])
	if err != nil {
		return err
	}
	var base *replay.Side
	run := report.ReplayRun{Policy: dir, Engine: f.engine, Head: policies[0]}
	if len(policies) > 1 {
		b, err := side(policies[1])
		if err != nil {
			return err
		}
		base, run.Base, run.OnlyFlips = &b, baseLabel, true
	}
	rp := replay.New(head, base)
	// Results are kept only for the formats that list them: -o summary streams in constant
	// memory, and a comparison keeps only the flips.
	keep := f.output != "summary"
	emit := func(c replay.Call) error {
		r, err := rp.Decide(ctx, c)
		if err != nil {
			return err
		}
		run.Summary.Add(&r)
		run.Logged = run.Logged || c.Logged != nil
		if keep && (!run.OnlyFlips || r.Flipped()) {
			run.Results = append(run.Results, r)
		}
		return nil
	}
	for _, t := range traces {
		if err := readTrace(cmd, t, replay.ReadOptions{Format: f.format, Agent: f.agent}, emit); err != nil {
			return inputError(err)
		}
	}
	if err := renderReplay(cmd.OutOrStdout(), f.output, run); err != nil {
		return err
	}
	if f.failed(run.Summary) {
		return errPolicyFailed
	}
	return nil
}

func readTrace(cmd *cobra.Command, name string, opts replay.ReadOptions, emit func(replay.Call) error) error {
	if name == "-" {
		return replay.Read(cmd.InOrStdin(), "stdin", opts, emit)
	}
	fh, err := os.Open(name)
	if err != nil {
		return err
	}
	defer fh.Close()
	return replay.Read(fh, name, opts, emit)
}

func (f *replayFlags) failed(s replay.Summary) bool {
	return slices.Contains(f.failOn, "deny") && s.Deny > 0 ||
		slices.Contains(f.failOn, "flip") && s.Flips > 0 ||
		slices.Contains(f.failOn, "not-replayable") && s.NotReplayable > 0
}

func renderReplay(out io.Writer, output string, run report.ReplayRun) error {
	// A table per session is many small writes: buffer them.
	w := bufio.NewWriterSize(out, 1<<16)
	var err error
	switch output {
	case "summary":
		err = report.ReplaySummary(w, run)
	case "json":
		err = report.ReplayJSON(w, run)
	case "junit":
		err = report.ReplayJUnit(w, run)
	case "markdown":
		err = report.ReplayMarkdown(w, run)
	default:
		err = report.ReplayTable(w, run, isTerminal(out))
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return fmt.Errorf("write replay %s output: %w", output, err)
	}
	return nil
}
