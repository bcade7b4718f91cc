package lint

import (
	"slices"
	"strconv"
	"strings"

	"github.com/agentctl/agentctl/policy"
)

const familyEntitlements = "Entitlements"

// WildcardGrant is AC010.
var WildcardGrant = &Check{
	ID: "AC010", Slug: "wildcard-grant", Family: familyEntitlements,
	Title:    "Grant uses a wildcard tool, action or resource",
	Severity: High, LowTier: Medium,
	Rationale: "A wildcard grants everything that exists now and everything added later: the " +
		"agent's authority grows silently with the tool catalogue, against least privilege.",
	Remediation: "Name the tool, the actions and the resources the agent needs.",
	Frameworks:  Frameworks{ASI: []string{"ASI03"}, NHI: []string{"NHI5:2025"}, MAESTRO: []string{"L6"}, NIST: []string{"MEASURE 2.7"}},
	Example:     "agents: ops: grants: [{tool: \"*\", actions: [\"*\"]}]",
	Fix: `tools: tickets: {auth: kind: "workload_identity", actions: {read: effect: "read", update: effect: "write"}}
agents: ops: grants: [{tool: "tickets", actions: ["read", "update"], resources: ["queues/ops/*"], jit: true}]`,
	Run: func(pass *Pass) {
		for ai, a := range pass.Policy.Agents {
			for gi, g := range a.Grants {
				wild := make([]string, 0, 3)
				if g.Tool == policy.Wildcard {
					wild = append(wild, `tool "*"`)
				}
				if slices.Contains(g.Actions, policy.Wildcard) {
					wild = append(wild, `action "*"`)
				}
				for _, r := range g.Resources {
					if strings.Trim(r, "*/") == "" {
						wild = append(wild, "resource "+q(r))
						break
					}
				}
				if len(wild) > 0 {
					n := pass.facts.grantCaps(ai, gi).count()
					pass.Report(g.Path, g.Pos, "agent "+pass.facts.quotedAgent(ai)+" has a wildcard grant on "+toolLabel(g.Tool)+
						" ("+strings.Join(wild, ", ")+"), covering "+plural(n, "capability", "capabilities"))
				}
			}
		}
	},
}

// WriteWithoutJIT is AC011.
var WriteWithoutJIT = &Check{
	ID: "AC011", Slug: "write-without-jit", Family: familyEntitlements,
	Title:    "Standing grant of a non-read capability",
	Severity: Medium, LowTier: Low,
	Rationale: "A standing (non just-in-time) grant of a write, delete, payment, deploy or other " +
		"non-read effect lets a hijacked or confused agent change the world at any moment, not " +
		"only while it works on a task that needs it.",
	Remediation: "Mark the grant `jit: true` so it is issued per task, or split the read actions " +
		"into their own standing grant.",
	Frameworks: Frameworks{ASI: []string{"ASI02"}, NHI: []string{"NHI5:2025"}, MAESTRO: []string{"L6"}, NIST: []string{"MEASURE 2.7"}},
	Example: `tools: payments: {auth: kind: "workload_identity", actions: refund: effect: "payment"}
agents: billing: grants: [{tool: "payments", actions: ["refund"]}]`,
	Fix: `tools: payments: {auth: kind: "workload_identity", actions: refund: effect: "payment"}
agents: billing: grants: [{tool: "payments", actions: ["refund"], jit: true}]`,
	Run: func(pass *Pass) {
		m := pass.facts.capMasks()
		for ai, a := range pass.Policy.Agents {
			for gi, g := range a.Grants {
				if g.JIT {
					continue
				}
				if s := pass.facts.grantCaps(ai, gi).sample(m.nonRead); s.n > 0 {
					pass.Report(g.Path, g.Pos, pass.describeAfter(s, "agent ", pass.facts.quotedAgent(ai), " holds non-read capabilities without jit: "))
				}
			}
		}
	},
}

func toolLabel(tool string) string {
	if tool == policy.Wildcard {
		return "every tool"
	}
	return "tool " + q(tool)
}

// describe renders capabilities with their effects: "payments.refund (payment)".
func (p *Pass) describe(s sample) string { return p.describeAfter(s) }

// describeAfter is the concatenated prefix followed by describe(s), built in one allocation.
func (p *Pass) describeAfter(s sample, prefix ...string) string {
	_, label := p.facts.capText()
	return s.list(label, prefix...)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
