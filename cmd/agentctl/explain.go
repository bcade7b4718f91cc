package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/report"
)

type explainFlags struct {
	agent, tool, action, chain, resource string
	identity, now, task                  string
	approvers, attributes                []string
	input, revocations, lists, output    string
}

// explainFormats are the output formats of explain.
var explainFormats = []string{"table", "json"}

func newExplainCmd() *cobra.Command {
	var f explainFlags
	cmd := &cobra.Command{
		Use:   "explain [DIR] --agent A --tool T --action X [--chain a,b,c] [--resource R] [--attribute K=V] [--approver NAME:ROLE] | --input req.json",
		Short: "Explain the runtime decision on one request: why it is allowed, denied or needs approval",
		Long: `Explain decides one runtime request the way the compiled bundle would and shows why:
the decision and its reason codes, the chain's effective authority hop by hop, the grant
that allowed the call and the approval rules it still needs.

The request is either built from flags (--agent, --tool and --action are required) or
read from --input (a JSON file with the runtime request, "-" for stdin), with any flags set
on top of it.

A request built from flags asks "may this agent do this, all else being in order?", so it
assumes what the enforcement point would fill in for a healthy call, and the output lists
each assumed value: the agent's declared identity (unless --identity), a credential that is
still valid (expires_at = now + the agent's credential ttl) and a fresh session (0 actions,
started now) when the agent needs them, and the current time (unless --now). A request read
with --input is decided as it is: nothing is assumed.

--attribute KEY=VALUE sets a request attribute (a number when VALUE is one), which approval
thresholds compare; --approver NAME:ROLE adds a human approval. Repeat either for several.
--revocations reads the document an operator would push to data.agentctl_revocations, and
--lists the runtime lists pushed to data.agentctl_lists (docs/runtime.md); --task sets the
request's task, which scopes lists keyed by task.

The output names each condition of the policy the decision tested (a grant's, an approval
rule's, an action's flow class, the integrity rule's exception) and whether it held.

Only an allow names the grant that allowed the call; a deny names what denied it (the
policy element or revocation behind each reason code). The request is also decided by the
compiled Rego; if the two engines disagree, the exit status is 1. Otherwise it is 0
whatever the decision.`,
		Example: `  # allow: billing's own grant covers a 40 EUR refund handed over by triage (billing's
  # identity, a valid credential and the current time are assumed, and listed)
  agentctl explain scenarios/support-refunds --agent billing --tool payments --action refund --chain triage,billing --attribute amount=40
  # needs_approval: above 50 EUR the refund-over-50 rule wants a support lead
  agentctl explain scenarios/support-refunds --agent billing --tool payments --action refund --attribute amount=120
  # allow: the same refund with a support lead's approval
  agentctl explain scenarios/support-refunds --agent billing --tool payments --action refund --attribute amount=120 --approver dana:support-lead
  # deny: triage holds no payments.refund (NOT_GRANTED, denied by agents.triage.grants)
  agentctl explain scenarios/support-refunds --agent triage --tool payments --action refund
  # a recorded request, decided as it is
  agentctl explain --input request.json -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(f.output, explainFormats...); err != nil {
				return inputError(err)
			}
			now, err := f.clock()
			if err != nil {
				return inputError(err)
			}
			in, rev, err := f.request(cmd)
			if err != nil {
				return inputError(err)
			}
			var lists any
			if f.lists != "" {
				if lists, err = readJSON(cmd, f.lists); err != nil {
					return inputError(err)
				}
			}
			dir, err := policyDir(cmd, args)
			if err != nil {
				return err
			}
			p, err := loadOne(cmd, dir)
			if err != nil {
				return err
			}
			var assumed []report.Assumption
			if f.input == "" {
				assumed = f.assume(p, in.(map[string]any), now)
			}
			ctx := context.Background()
			b, err := compile.Bundle(p)
			if err != nil {
				return fmt.Errorf("compile %s: %w", dir, err)
			}
			e, err := compile.NewEngine(ctx, b)
			if err != nil {
				return err
			}
			if err := e.SetRevocations(ctx, rev); err != nil {
				return err
			}
			if err := e.SetLists(ctx, lists); err != nil {
				return err
			}
			env := policy.Env{Revocations: rev, Lists: lists, Now: now}
			// The flags are already in the request; a request that is not an object names no
			// capability (indexing the nil map gives "").
			m, _ := in.(map[string]any)
			tool, _ := m["tool"].(string)
			action, _ := m["action"].(string)
			x := report.Explained{Explanation: p.Explain(in, env), Capability: policy.Capability(tool, action), Assumed: assumed}
			if x.Rego, err = e.Decide(ctx, in, env); err != nil {
				return err
			}
			x.Agree = reflect.DeepEqual(x.Rego, x.Explanation.Decision)
			w := cmd.OutOrStdout()
			if f.output == "json" {
				err = report.ExplainJSONWrite(w, x)
			} else {
				err = report.ExplainText(w, x, isTerminal(w))
			}
			if err != nil {
				return fmt.Errorf("write explanation: %w", err)
			}
			if !x.Agree {
				return errPolicyFailed
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.agent, "agent", "", "the executing agent")
	fl.StringVar(&f.tool, "tool", "", "the tool called")
	fl.StringVar(&f.action, "action", "", "the tool's action")
	fl.StringVar(&f.chain, "chain", "", "the hand-off chain, comma-separated, ending with the agent (default: the agent alone)")
	fl.StringVar(&f.resource, "resource", "", "the resource acted on")
	fl.StringVar(&f.identity, "identity", "", "the SPIFFE ID the agent presents (default with flags: the agent's declared identity)")
	fl.StringVar(&f.now, "now", "", "the decision time, RFC 3339 (default: the current time)")
	fl.StringArrayVar(&f.approvers, "approver", nil, "a human approval, NAME:ROLE (repeatable)")
	fl.StringArrayVar(&f.attributes, "attribute", nil, "a request attribute, KEY=VALUE; VALUE is a number when it parses as one (repeatable)")
	fl.StringVar(&f.input, "input", "", `a JSON file holding the runtime request ("-" reads stdin)`)
	fl.StringVar(&f.revocations, "revocations", "", "a JSON file holding data.agentctl_revocations")
	fl.StringVar(&f.lists, "lists", "", "a JSON file holding data.agentctl_lists (the runtime lists)")
	fl.StringVar(&f.task, "task", "", "the task the call belongs to")
	fl.StringVarP(&f.output, "output", "o", "table", "output format: "+wordList(explainFormats, "or"))
	return cmd
}

// request builds the runtime request from --input and the flags.
func (f explainFlags) request(cmd *cobra.Command) (in, rev any, err error) {
	req := map[string]any{}
	if f.input != "" {
		v, err := readJSON(cmd, f.input)
		if err != nil {
			return nil, nil, err
		}
		m, ok := v.(map[string]any)
		if !ok {
			// Explain the malformed request as the runtime would see it.
			if f.agent != "" || f.tool != "" || f.action != "" {
				return nil, nil, fmt.Errorf("%s: the request is not a JSON object, so flags cannot be added to it", f.input)
			}
			in = v
		}
		req = m
	} else if missing := f.missing(); missing != "" {
		return nil, nil, fmt.Errorf("explain needs %s (or the whole request with --input)", missing)
	}
	for k, v := range map[string]string{"agent": f.agent, "tool": f.tool, "action": f.action, "resource": f.resource,
		"identity": f.identity, "now": f.now, "task": f.task} {
		if v != "" && req != nil {
			req[k] = v
		}
	}
	if f.chain != "" && req != nil {
		var chain []any
		for _, s := range strings.Split(f.chain, ",") {
			chain = append(chain, strings.TrimSpace(s))
		}
		req["chain"] = chain
	}
	if len(f.approvers) > 0 && req != nil {
		var approvals []any
		for _, a := range f.approvers {
			name, role, ok := strings.Cut(a, ":")
			if !ok || name == "" || role == "" {
				return nil, nil, fmt.Errorf("--approver %q: want NAME:ROLE", a)
			}
			approvals = append(approvals, map[string]any{"approver": name, "role": role, "human": true})
		}
		req["approvals"] = approvals
	}
	if len(f.attributes) > 0 && req != nil {
		attrs, _ := req["attributes"].(map[string]any)
		if attrs == nil {
			attrs = map[string]any{}
		}
		for _, a := range f.attributes {
			k, v, ok := strings.Cut(a, "=")
			if !ok || k == "" {
				return nil, nil, fmt.Errorf("--attribute %q: want KEY=VALUE", a)
			}
			if _, err := strconv.ParseFloat(v, 64); err == nil {
				attrs[k] = json.Number(v)
			} else {
				attrs[k] = v
			}
		}
		req["attributes"] = attrs
	}
	if in == nil {
		in = req
	}
	if f.revocations != "" {
		if rev, err = readJSON(cmd, f.revocations); err != nil {
			return nil, nil, err
		}
	}
	return in, rev, nil
}

// missing names the required flags that are not set, "" when none is missing.
func (f explainFlags) missing() string {
	var names []string
	for _, fl := range []struct{ name, value string }{{"--agent", f.agent}, {"--tool", f.tool}, {"--action", f.action}} {
		if fl.value == "" {
			names = append(names, fl.name)
		}
	}
	return wordList(names, "and")
}

// clock is --now, else the current time to the second.
func (f explainFlags) clock() (time.Time, error) {
	if f.now == "" {
		return time.Now().UTC().Truncate(time.Second), nil
	}
	t, err := time.Parse(time.RFC3339, f.now)
	if err != nil {
		return time.Time{}, fmt.Errorf("--now %q: want an RFC 3339 time such as 2026-11-27T09:30:00Z", f.now)
	}
	return t, nil
}

// assume fills in, for a request built from flags, what the enforcement point would supply
// for a healthy call and the flags did not give, and returns what it assumed.
func (f explainFlags) assume(p *policy.Policy, req map[string]any, now time.Time) []report.Assumption {
	var out []report.Assumption
	set := func(field string, value any, why string) {
		out = append(out, report.Assumption{Field: field, Value: value, Why: why})
	}
	if a := p.Agent(f.agent); a != nil {
		if f.identity == "" && a.SpiffeID != "" {
			req["identity"] = a.SpiffeID
			set("identity", a.SpiffeID, "the agent's declared identity")
		}
		if c := a.Credential; c != nil && c.HasTTL {
			exp := now.Add(c.TTL).Format(time.RFC3339)
			req["credential"] = map[string]any{"expires_at": exp}
			set("credential.expires_at", exp, "a valid credential: now + ttl "+policy.FormatDuration(c.TTL))
		}
		if s := a.Session; s != nil && (s.MaxActions > 0 || s.HasMaxDuration) {
			session := map[string]any{}
			if s.MaxActions > 0 {
				session["actions"] = 0
				set("session.actions", 0, "a fresh session")
			}
			if s.HasMaxDuration {
				session["started_at"] = now.Format(time.RFC3339)
				set("session.started_at", session["started_at"], "a fresh session")
			}
			req["session"] = session
		}
	}
	if f.now == "" {
		req["now"] = now.Format(time.RFC3339)
		set("now", req["now"], "the current time")
	}
	return out
}

func readJSON(cmd *cobra.Command, path string) (any, error) {
	var raw []byte
	var err error
	if path == "-" {
		raw, err = io.ReadAll(cmd.InOrStdin())
	} else {
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: more than one JSON value", path)
	}
	return v, nil
}
