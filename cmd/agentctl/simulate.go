package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/report"
	"github.com/agentctl/agentctl/simulate"
)

// simulateFlags are the flags of `agentctl simulate`.
type simulateFlags struct {
	output        string
	scenario      string
	from          string
	compromise    []string
	mode          string
	revoke        []string
	removeHandoff []string
	compare       bool
}

func newSimulateCmd() *cobra.Command {
	var f simulateFlags
	cmd := &cobra.Command{
		Use:   "simulate [DIR...]",
		Short: "Run hand-off scenarios: privilege escalation, exfiltration paths, approvals, what-if",
		Long: `Simulate runs the scenarios of each policy directory (default .; DIR/... is every policy
directory under DIR). A scenario is a task entering the estate at its start agent;
simulate follows every chain of declared hand-offs up to settings.max_chain_depth and
reports, per scenario:

  reach          every capability some chain can exercise
  escalations    reached capabilities outside the originator's authority, each with a
                 shortest witness chain such as triage -delegate-> billing
  exfiltration   chains where an agent with untrusted context, after a confidential or
                 regulated read, holds a non-read capability on an external tool
  approvals      reached capabilities that approval rules match for the executing agent

and checks the scenario's expect block. A what_if block (or the flags below) changes the
policy before the scenario runs: hijacked agents, removed hand-offs, one mode for every
hand-off, revoked capabilities (revoked capabilities are unreachable, even from an explicit
scenario authority).

Ad-hoc what-if: --from AGENT runs a scenario entering at AGENT; --compromise, --mode,
--revoke and --remove-handoff apply to that scenario, or else to the selected scenarios,
whose expectations are then not checked (they were written for the scenario as declared).
--compare prints the baseline beside the what-if and the capabilities that appear or
vanish; without what-if flags the baseline is each scenario without its what_if block.
A comparison checks no expectations.

Output formats: table (default), json, junit. Exit status: 0 every expectation holds,
1 an expectation failed, 2 the input or the invocation is wrong.`,
		Example: `  agentctl simulate scenarios/support-refunds
  agentctl simulate ./... -o junit > scenarios.xml
  agentctl simulate scenarios/support-refunds --scenario fraud-review-hijacked -o json
  agentctl simulate scenarios/support-refunds --from triage --compromise kb-assistant
  agentctl simulate scenarios/support-refunds --from triage --mode attenuate --compare
  agentctl simulate scenarios/support-refunds --scenario refund-request --revoke payments.refund --remove-handoff triage:billing --compare`,
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := f.validate()
			if err != nil {
				return inputError(err)
			}
			dirs, err := policyDirs(cmd.ErrOrStderr(), args)
			if err != nil {
				return err
			}
			policies, err := loadAll(cmd, dirs)
			if err != nil {
				return err
			}
			return f.run(cmd.OutOrStdout(), dirs, policies, w)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table, json or junit")
	fl.StringVar(&f.scenario, "scenario", "", "run only the scenario with this name")
	fl.StringVar(&f.from, "from", "", "run an ad-hoc scenario entering at this agent")
	fl.StringSliceVar(&f.compromise, "compromise", nil, "what-if: treat these agents as hijacked (repeatable, comma-separated)")
	fl.StringVar(&f.mode, "mode", "", "what-if: use this mode for every hand-off: attenuate, delegate or forward_credentials")
	fl.StringSliceVar(&f.revoke, "revoke", nil, "what-if: remove these capabilities (tool.action) from every agent")
	fl.StringSliceVar(&f.removeHandoff, "remove-handoff", nil, "what-if: remove the hand-offs FROM:TO")
	fl.BoolVar(&f.compare, "compare", false, "print the baseline beside the what-if: capabilities that appear or vanish")
	return cmd
}

// validate checks the flags and returns the ad-hoc what-if (nil when no what-if flag is set).
func (f simulateFlags) validate() (*policy.WhatIf, error) {
	formats := []string{"table", "json", "junit"}
	if f.compare {
		formats = []string{"table", "json"}
	}
	if !slices.Contains(formats, f.output) {
		return nil, fmt.Errorf("unknown output format %q (want %s)", f.output, strings.Join(formats, ", "))
	}
	if f.from != "" && f.scenario != "" {
		return nil, fmt.Errorf("--from and --scenario cannot be combined: --from runs an ad-hoc scenario")
	}
	if f.mode != "" && !slices.Contains([]string{policy.ModeAttenuate, policy.ModeDelegate, policy.ModeForwardCredentials}, f.mode) {
		return nil, fmt.Errorf("--mode %q: want attenuate, delegate or forward_credentials", f.mode)
	}
	if len(f.compromise) == 0 && f.mode == "" && len(f.revoke) == 0 && len(f.removeHandoff) == 0 {
		return nil, nil
	}
	w := &policy.WhatIf{Compromised: f.compromise, HandoffMode: f.mode, Revoke: f.revoke}
	for _, h := range f.removeHandoff {
		from, to, ok := strings.Cut(h, ":")
		if !ok || from == "" || to == "" {
			return nil, fmt.Errorf("--remove-handoff %q: want FROM:TO, e.g. triage:billing", h)
		}
		w.RemoveHandoffs = append(w.RemoveHandoffs, policy.Edge{From: from, To: to})
	}
	return w, nil
}

// selected returns the scenarios of p the flags ask for.
func (f simulateFlags) selected(dir string, p *policy.Policy) ([]*policy.Scenario, error) {
	switch {
	case f.from != "":
		return []*policy.Scenario{simulate.AdHoc(f.from)}, nil
	case f.scenario != "":
		var names []string
		for _, s := range p.Scenarios {
			if s.Name == f.scenario {
				return []*policy.Scenario{s}, nil
			}
			names = append(names, s.Name)
		}
		return nil, fmt.Errorf("%s: no scenario %q (scenarios: %s)", dir, f.scenario, orNone(names))
	}
	return p.Scenarios, nil
}

func (f simulateFlags) run(stdout io.Writer, dirs []string, policies []*policy.Policy, w *policy.WhatIf) error {
	var (
		comps  []*simulate.Comparison
		perDir [][]*simulate.Result
	)
	for i, p := range policies {
		scs, err := f.selected(dirs[i], p)
		if err != nil {
			return inputError(err)
		}
		est, err := simulate.NewEstate(p)
		if err != nil {
			return inputError(fmt.Errorf("%s: %w", dirs[i], err))
		}
		var mine []*simulate.Result
		for _, sc := range scs {
			changed := sc
			if w != nil {
				changed = simulate.WithWhatIf(sc, w)
			}
			if f.compare {
				// WithWhatIf with an empty what-if keeps the scenario as it is, minus its
				// expectations: a comparison checks none.
				base := simulate.Baseline(sc)
				if w != nil {
					base = simulate.WithWhatIf(sc, &policy.WhatIf{})
				}
				c, err := est.Compare(base, simulate.WithWhatIf(changed, &policy.WhatIf{}))
				if err != nil {
					return inputError(fmt.Errorf("%s: %w", dirs[i], err))
				}
				c.Policy, c.Baseline.Policy, c.WhatIf.Policy = dirs[i], dirs[i], dirs[i]
				comps = append(comps, c)
				continue
			}
			r, err := est.Run(changed)
			if err != nil {
				return inputError(fmt.Errorf("%s: %w", dirs[i], err))
			}
			r.Policy = dirs[i]
			mine = append(mine, r)
		}
		perDir = append(perDir, mine)
	}
	if f.compare {
		var err error
		if f.output == "json" {
			err = report.CompareJSON(stdout, comps)
		} else {
			err = report.CompareTable(stdout, comps, isTerminal(stdout))
		}
		if err != nil {
			return fmt.Errorf("write comparison: %w", err)
		}
		return nil
	}
	results := slices.Concat(perDir...)
	var err error
	switch f.output {
	case "json":
		err = report.SimulateJSON(stdout, results)
	case "junit":
		err = report.SimulateJUnit(stdout, results)
	default:
		for i, rs := range perDir {
			if len(dirs) > 1 {
				fmt.Fprintf(stdout, "%s:\n", dirs[i])
			}
			if err = report.SimulateTable(stdout, rs, isTerminal(stdout)); err != nil {
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("write simulate results: %w", err)
	}
	for _, r := range results {
		if !r.Passed {
			return errPolicyFailed
		}
	}
	return nil
}

// runScenarios runs every scenario of one loaded policy as declared (check's simulate stage).
func runScenarios(dir string, p *policy.Policy) ([]*simulate.Result, error) {
	est, err := simulate.NewEstate(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	var results []*simulate.Result
	for _, sc := range p.Scenarios {
		r, err := est.Run(sc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		r.Policy = dir
		results = append(results, r)
	}
	return results, nil
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return quotedList(names)
}

// quotedList lists names quoted, so an empty name or one holding a comma reads as itself.
func quotedList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}
