package lint

import (
	"math/bits"
	"sort"
	"strings"

	"github.com/agentctl/agentctl/policy"
)

const familyIdentity = "Identity and credentials"

// MissingWorkloadIdentity is AC001.
var MissingWorkloadIdentity = &Check{
	ID: "AC001", Slug: "missing-workload-identity", Family: familyIdentity,
	Title:    "Agent without a workload identity",
	Severity: High, LowTier: Medium,
	Rationale: "An agent without its own workload identity (a SPIFFE ID) cannot be told apart " +
		"from other callers: tool calls are not attributable, identity-bound credentials cannot " +
		"be issued, and the runtime cannot check IDENTITY_MISMATCH.",
	Remediation: "Give the agent `identity: spiffe_id: \"spiffe://<trust-domain>/agents/<name>\"`, " +
		"issued by your SPIFFE/SPIRE deployment.",
	Frameworks: Frameworks{ASI: []string{"ASI03"}, NHI: []string{"NHI4:2025"}, MAESTRO: []string{"L7"}, NIST: []string{"GOVERN 1.6"}},
	Example:    "agents: billing: {\n\towner: \"payments-team\"\n\tgrants: []\n}",
	Fix:        "agents: billing: {\n\towner: \"payments-team\"\n\tidentity: spiffe_id: \"spiffe://acme.example/agents/billing\"\n\tgrants: []\n}",
	Run: func(pass *Pass) {
		for ai, a := range pass.Policy.Agents {
			if a.SpiffeID == "" {
				pass.Report(a.Path(), a.Pos, "agent "+pass.facts.quotedAgent(ai)+" has no workload identity (identity.spiffe_id)")
			}
		}
	},
}

// SharedIdentity is AC002.
var SharedIdentity = &Check{
	ID: "AC002", Slug: "shared-identity", Family: familyIdentity,
	Title:    "Several agents share one workload identity",
	Severity: High,
	Rationale: "Agents that present the same SPIFFE ID are indistinguishable to tools and to " +
		"the runtime: one agent can act with another's grants and audit trails blur.",
	Remediation: "Issue each agent its own SPIFFE ID.",
	Frameworks:  Frameworks{ASI: []string{"ASI03"}, NHI: []string{"NHI9:2025"}, MAESTRO: []string{"L7"}, NIST: []string{"MEASURE 2.8"}},
	Example: "agents: {\n\ttriage: identity: spiffe_id: \"spiffe://acme.example/agents/support\"\n" +
		"\tbilling: identity: spiffe_id: \"spiffe://acme.example/agents/support\"\n}",
	Fix: "agents: {\n\ttriage: identity: spiffe_id: \"spiffe://acme.example/agents/triage\"\n" +
		"\tbilling: identity: spiffe_id: \"spiffe://acme.example/agents/billing\"\n}",
	Run: func(pass *Pass) {
		// Nearly every ID is an agent's own: list names only for IDs held twice or more.
		agents := pass.Policy.Agents
		first := make(map[string]int, len(agents)) // SPIFFE ID -> first agent holding it
		shared := map[string][]string{}            // SPIFFE ID -> its agents, when several
		for i, a := range agents {
			if a.SpiffeID == "" {
				continue
			}
			j, seen := first[a.SpiffeID]
			switch {
			case !seen:
				first[a.SpiffeID] = i
			case shared[a.SpiffeID] == nil:
				shared[a.SpiffeID] = []string{agents[j].Name, a.Name}
			default:
				shared[a.SpiffeID] = append(shared[a.SpiffeID], a.Name)
			}
		}
		for _, a := range agents {
			names := shared[a.SpiffeID]
			if a.SpiffeID == "" || len(names) < 2 {
				continue
			}
			var others []string
			for _, n := range names {
				if n != a.Name {
					others = append(others, n)
				}
			}
			path := a.Path() + ".identity.spiffe_id"
			pass.Reportf(path, pass.pos(a.Pos, path, a.Path()+".identity"),
				"agent %q shares SPIFFE ID %q with %s", a.Name, a.SpiffeID, agentList(others, len(others)))
		}
	},
}

// LongLivedCredential is AC003.
var LongLivedCredential = &Check{
	ID: "AC003", Slug: "long-lived-credential", Family: familyIdentity,
	Title:    "Agent credential is long-lived",
	Severity: High, LowTier: Medium,
	Rationale: "Static or long-lived secrets are the most common way non-human identities are " +
		"abused: once leaked from a prompt, a log or a tool response they stay valid.",
	Remediation: "Declare `credential: {kind: \"ephemeral\", ttl: \"15m\"}` with a ttl no longer " +
		"than settings.max_credential_ttl.",
	Frameworks: Frameworks{ASI: []string{"ASI03"}, NHI: []string{"NHI7:2025"}, MAESTRO: []string{"L4"}, NIST: []string{"MEASURE 2.7"}},
	Example:    "agents: billing: credential: {kind: \"static\"}",
	Fix:        "agents: billing: credential: {kind: \"ephemeral\", ttl: \"15m\"}",
	Run: func(pass *Pass) {
		maxTTL := pass.Policy.Settings.MaxCredentialTTL
		for ai, a := range pass.Policy.Agents {
			c := a.Credential
			if c == nil {
				pass.Report(a.Path(), a.Pos, "agent "+pass.facts.quotedAgent(ai)+" has no credential block: declare an ephemeral credential with a ttl")
				continue
			}
			reasons := make([]string, 0, 2)
			at := make([]string, 0, 3) // the fields at fault, for the position
			if c.Kind == "static" {
				reasons = append(reasons, `kind is "static"`)
				at = append(at, ".kind")
			}
			switch {
			case !c.HasTTL:
				reasons = append(reasons, "it has no ttl")
			case maxTTL > 0 && c.TTL > maxTTL:
				reasons = append(reasons, "ttl "+policy.FormatDuration(c.TTL)+" exceeds max_credential_ttl "+policy.FormatDuration(maxTTL))
				at = append(at, ".ttl")
			}
			reportCredential(pass, ai, "is long-lived", reasons, at)
		}
	},
}

// CredentialOutlivesTask is AC004.
var CredentialOutlivesTask = &Check{
	ID: "AC004", Slug: "credential-outlives-task", Family: familyIdentity,
	Title:    "Agent credential outlives its task",
	Severity: Medium, LowTier: Low,
	Rationale: "A credential scoped to a session or to the agent, or one not revoked when the " +
		"task ends, stays usable after the work it was issued for: a hijacked agent keeps it.",
	Remediation: "Use `scope: \"task\"` and keep `revoke_on_task_end: true` (the defaults).",
	Frameworks:  Frameworks{ASI: []string{"ASI03"}, NHI: []string{"NHI1:2025"}, MAESTRO: []string{"L4"}, NIST: []string{"MANAGE 2.4"}},
	Example:     "agents: billing: credential: {ttl: \"15m\", scope: \"agent\", revoke_on_task_end: false}",
	Fix:         "agents: billing: credential: {ttl: \"15m\", scope: \"task\"}",
	Run: func(pass *Pass) {
		for ai, a := range pass.Policy.Agents {
			c := a.Credential
			if c == nil {
				continue // AC003 reports the missing block
			}
			reasons := make([]string, 0, 2)
			at := make([]string, 0, 3) // the fields at fault, for the position
			if c.Scope != "task" {
				reasons = append(reasons, "scope is "+q(c.Scope)+`, not "task"`)
				at = append(at, ".scope")
			}
			if !c.RevokeOnTaskEnd {
				reasons = append(reasons, "revoke_on_task_end is false")
				at = append(at, ".revoke_on_task_end")
			}
			reportCredential(pass, ai, "outlives its task", reasons, at)
		}
	},
}

// reportCredential reports the credential block of agent ai when reasons is not empty:
// "credential of agent "x" <what>: <reasons>", at the first field at fault (the suffixes in
// at), else at the block.
func reportCredential(pass *Pass, ai int, what string, reasons, at []string) {
	if len(reasons) == 0 {
		return
	}
	a := pass.Policy.Agents[ai]
	base := a.Path() + ".credential"
	pass.Report(base, pass.posOf(a.Credential.Pos, base, append(at, "")...),
		"credential of agent "+pass.facts.quotedAgent(ai)+" "+what+": "+strings.Join(reasons, "; "))
}

// SharedToolToken is AC005.
var SharedToolToken = &Check{
	ID: "AC005", Slug: "shared-tool-token", Family: familyIdentity,
	Title:    "Tool token shared by several agents",
	Severity: High, LowTier: Medium,
	Rationale: "A tool that authenticates callers with a shared token or a static key cannot tell " +
		"which agent called it; every agent using it holds the same secret, so one leak " +
		"compromises all of them.",
	Remediation: "Authenticate the tool with `workload_identity` or per-agent `ephemeral_token`s.",
	Frameworks:  Frameworks{ASI: []string{"ASI03"}, NHI: []string{"NHI9:2025"}, MAESTRO: []string{"L4"}, NIST: []string{"MEASURE 2.8"}},
	Example: "tools: crm: {auth: kind: \"shared_token\", actions: read: effect: \"read\"}\n" +
		"agents: {\n\ttriage: grants: [{tool: \"crm\", actions: [\"read\"]}]\n\tbilling: grants: [{tool: \"crm\", actions: [\"read\"]}]\n}",
	Fix: `tools: crm: {auth: kind: "workload_identity", actions: read: effect: "read"}
agents: {
	triage: grants: [{tool: "crm", actions: ["read"]}]
	billing: grants: [{tool: "crm", actions: ["read"]}]
}`,
	Run: func(pass *Pass) {
		m := pass.facts.capMasks()
		if m.sharedAuth.Empty() {
			return
		}
		// Per tool: how many agents use it, and the first few of them in agent order, which is
		// name order (p.Agents is sorted).
		type use struct {
			n     int
			first [listed]string
		}
		users := make([]use, len(pass.Policy.Tools))
		for ai, a := range pass.Policy.Agents {
			last := -1
			for _, w := range pass.facts.agentCaps(ai) {
				for x := w.bits & m.sharedAuth[w.at]; x != 0; x &= x - 1 {
					id := 64*w.at + bits.TrailingZeros64(x)
					if t := pass.facts.toolOf[id]; t != last { // a tool's ids are adjacent
						if u := &users[t]; u.n < listed {
							u.first[u.n] = a.Name
						}
						users[t].n++
						last = t
					}
				}
			}
		}
		for ti, t := range pass.Policy.Tools {
			if u := users[ti]; u.n >= 2 {
				path := t.Path() + ".auth"
				pass.Reportf(path, pass.pos(t.Pos, path+".kind", path),
					"tool %q authenticates with a %s used by %d agents: %s", t.Name, t.Auth.Kind, u.n, agentList(u.first[:min(u.n, listed)], u.n))
			}
		}
	},
}

// listed is how many agents a message names.
const listed = 5

// agentList renders the first names (sorted) of n agents quoted, listing at most five, then
// how many more there are.
func agentList(names []string, n int) string {
	sort.Strings(names)
	quoted := make([]string, min(len(names), listed))
	for i := range quoted {
		quoted[i] = q(names[i])
	}
	return joinAfter(nil, quoted, n)
}
