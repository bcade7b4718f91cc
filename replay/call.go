// Package replay decides recorded agent traffic with a policy: tool calls read from
// OpenTelemetry traces (OTLP JSON, as the Collector's file exporter writes them), OPA
// decision logs and MCP JSON-RPC logs, each rebuilt into the runtime request the enforcement
// point would have sent, with the session state it would have held.
package replay

import (
	"time"

	"github.com/agentctl/agentctl/policy"
)

// Input formats.
const (
	FormatOTLP   = "otlp"
	FormatOPALog = "opa"
	FormatMCP    = "mcp"
)

// Call is one recorded tool call, as a reader found it.
type Call struct {
	Source       string    // where it was recorded: "FILE:LINE" or "FILE:LINE trace/span"
	Session      string    // gen_ai.conversation.id, the trace id, a task or the file
	SessionStart time.Time // the earliest time the recording shows for the session; zero when unknown
	Time         time.Time // when the call started; zero when unknown
	Agent        string    // the executing agent; empty when the recording names none
	Chain        []string  // the hand-off chain, originator first, ending with Agent; nil means [Agent]
	LongChain    int       // the chain's length when it has more than MaxChain agents (Chain then holds its last MaxChain); else 0
	Identity     string    // the identity the recording carries; empty when none
	Name         string    // the recorded tool name (gen_ai.tool.name, MCP params.name)
	CallID       string    // gen_ai.tool.call.id, or the MCP JSON-RPC id; empty when none
	Arguments    map[string]any

	// Refused is the code of a refusal the enforcement point made before asking the policy
	// (docs/gateway.md: a missing or invalid task record, arguments that are no object),
	// with its message; such a call is not replayable. Empty otherwise.
	Refused, RefusedMessage string

	// Decision logs carry the request as logged; Name and Arguments are then unused.
	Request map[string]any
	Logged  *policy.Decision // the decision logged with it, when it decodes
}

// MaxChain is the longest chain replay rebuilds, in agents: a longer one is not replayable
// (the schema bounds max_chain_depth at 16 hand-offs, so the runtime denies it
// CHAIN_TOO_DEEP), and bounding it keeps a deeply nested recording linear to read.
const MaxChain = 64

// Not-replayable reasons (docs/replay.md).
const (
	ChainTooLong      = "chain too long"
	UnknownTool       = "unknown tool"
	AmbiguousTool     = "ambiguous tool"
	NoAgent           = "no agent"
	MissingArgument   = "missing argument for resource"
	RefusedByGateway  = "refused before the decision"
	AssumedIdentity   = "identity"
	AssumedCredential = "credential"
	AssumedTime       = "time"
)

// Verdict is one policy's answer on a call.
type Verdict struct {
	Capability    string           `json:"capability,omitempty"`
	NotReplayable string           `json:"not_replayable,omitempty"` // a reason above; empty when decided
	Detail        string           `json:"detail,omitempty"`         // why it is not replayable
	Request       map[string]any   `json:"request,omitempty"`        // the reconstructed request
	Assumed       []string         `json:"assumed,omitempty"`        // request fields filled by assumption
	Decision      *policy.Decision `json:"decision,omitempty"`
}

// Outcome is the decision's outcome, or "not_replayable".
func (v Verdict) Outcome() string {
	if v.Decision == nil {
		return OutcomeNotReplayable
	}
	return v.Decision.Outcome
}

// OutcomeNotReplayable is the outcome of a call that could not be decided.
const OutcomeNotReplayable = "not_replayable"

// Result is a call with the policy's verdict and, with a base policy, the base's.
type Result struct {
	Call Call
	Seq  int // the call's position in the session, from 1
	Verdict
	Base *Verdict // nil without a base policy
}

// Flipped reports whether the outcome differs from the base policy's or, for a decision
// log without a base, from the logged decision.
func (r *Result) Flipped() bool {
	switch {
	case r.Base != nil:
		return r.Outcome() != r.Base.Outcome()
	case r.Call.Logged != nil:
		return r.Outcome() != r.Call.Logged.Outcome
	}
	return false
}

// Was is the outcome a flip is measured against: the base's, else the logged one.
func (r *Result) Was() string {
	switch {
	case r.Base != nil:
		return r.Base.Outcome()
	case r.Call.Logged != nil:
		return r.Call.Logged.Outcome
	}
	return ""
}
