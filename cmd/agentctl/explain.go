package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/report"
)

type explainFlags struct {
	agent, tool, action, chain, resource string
	input, revocations, output           string
}

func newExplainCmd() *cobra.Command {
	var f explainFlags
	cmd := &cobra.Command{
		Use:   "explain [DIR] --agent A --tool T --action X [--chain a,b,c] [--resource R] [--input req.json]",
		Short: "Explain the runtime decision on one request: why it is allowed, denied or needs approval",
		Long: `Explain decides one runtime request the way the compiled bundle would and shows why:
the decision and its reason codes, the chain's effective authority hop by hop, the grant
that allowed the call and the approval rules it still needs.

The request is --input (a JSON file with the runtime request, "-" for stdin) with the
--agent, --tool, --action, --chain and --resource flags set on top. --revocations reads
the document an operator would push to data.agentctl_revocations. Requests without "now"
are decided at the current time. The request is also decided by the compiled Rego; if the
two engines disagree, the exit status is 1. Otherwise it is 0 whatever the decision.`,
		Example: `  agentctl explain scenarios/support-refunds --agent billing --tool payments --action refund --chain triage,billing
  agentctl explain --input request.json -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.output != "table" && f.output != "json" {
				return inputError(fmt.Errorf("unknown output format %q (want table or json)", f.output))
			}
			in, rev, err := f.request(cmd)
			if err != nil {
				return inputError(err)
			}
			dir := dirsOrDot(args)[0]
			policies, err := loadAll(cmd.ErrOrStderr(), []string{dir})
			if err != nil {
				return err
			}
			p := policies[0]
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
			env := policy.Env{Revocations: rev, Now: time.Now()}
			// The flags are already in the request; a request that is not an object names no
			// capability (indexing the nil map gives "").
			m, _ := in.(map[string]any)
			tool, _ := m["tool"].(string)
			action, _ := m["action"].(string)
			x := report.Explained{Explanation: p.Explain(in, env), Capability: tool + "." + action}
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
	fl.StringVar(&f.input, "input", "", `a JSON file holding the runtime request ("-" reads stdin)`)
	fl.StringVar(&f.revocations, "revocations", "", "a JSON file holding data.agentctl_revocations")
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table or json")
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
	} else if f.agent == "" || f.tool == "" || f.action == "" {
		return nil, nil, fmt.Errorf("explain needs --agent, --tool and --action, or --input")
	}
	for k, v := range map[string]string{"agent": f.agent, "tool": f.tool, "action": f.action, "resource": f.resource} {
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
