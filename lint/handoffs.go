package lint

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/agentctl/agentctl/policy"
)

const familyHandoffs = "Hand-offs and chains"

// CredentialForwarding is AC030.
var CredentialForwarding = &Check{
	ID: "AC030", Slug: "credential-forwarding", Family: familyHandoffs,
	Title:    "Hand-off forwards credentials",
	Severity: High, LowTier: Medium,
	Rationale: "With forward_credentials the receiver acts with the union of its own authority " +
		"and everything the chain carried so far: credentials travel beyond the agent they " +
		"were issued to, and authority accumulates along the chain.",
	Remediation: "Use `mode: \"attenuate\"` so the receiver acts with the intersection of the " +
		"chain's authority and its own.",
	Frameworks: Frameworks{ASI: []string{"ASI03", "ASI07"}, NHI: []string{"NHI2:2025", "NHI9:2025"}, MAESTRO: []string{"L7"}, NIST: []string{"MEASURE 2.7"}},
	Example: `agents: {triage: {}, billing: {}}
handoffs: [{from: "triage", to: "billing", mode: "forward_credentials"}]`,
	Fix: `agents: {triage: {}, billing: {}}
handoffs: [{from: "triage", to: "billing", mode: "attenuate"}]`,
	Run: func(pass *Pass) {
		for _, h := range pass.Policy.Handoffs {
			if h.Mode == policy.ModeForwardCredentials {
				pass.Report(h.Path(), h.Pos, "hand-off "+q(h.From)+" -> "+q(h.To)+" forwards credentials: "+q(h.To)+
					" acts with the chain's authority and its own")
			}
		}
	},
}

// PrivilegeMultiplyingHandoff is AC031.
var PrivilegeMultiplyingHandoff = &Check{
	ID: "AC031", Slug: "privilege-multiplying-handoff", Family: familyHandoffs,
	Title:    "Hand-off lets the sender reach capabilities it lacks",
	Severity: High, LowTier: Medium,
	Rationale: "A delegate or forward_credentials hand-off to an agent that holds capabilities " +
		"the sender lacks lets the sender (or whoever steers it, e.g. through prompt injection) " +
		"get those capabilities exercised: a confused-deputy path.",
	Remediation: "Use `mode: \"attenuate\"`, or narrow the receiver's grants to what the sender " +
		"may cause.",
	Frameworks: Frameworks{ASI: []string{"ASI03"}, NHI: []string{"NHI5:2025"}, MAESTRO: []string{"L7"}, NIST: []string{"MEASURE 2.7"}},
	Example: `tools: payments: {auth: kind: "workload_identity", actions: refund: effect: "payment"}
agents: {
	triage: grants: []
	billing: grants: [{tool: "payments", actions: ["refund"], jit: true}]
}
handoffs: [{from: "triage", to: "billing", mode: "delegate"}]`,
	Fix: `tools: payments: {auth: kind: "workload_identity", actions: refund: effect: "payment"}
agents: {
	triage: grants: []
	billing: grants: [{tool: "payments", actions: ["refund"], jit: true}]
}
handoffs: [{from: "triage", to: "billing", mode: "attenuate"}]`,
	Run: func(pass *Pass) {
		g := pass.facts.graph()
		for i, h := range pass.Policy.Handoffs {
			from, to := g.ends[i][0], g.ends[i][1]
			if (h.Mode != policy.ModeDelegate && h.Mode != policy.ModeForwardCredentials) || from < 0 {
				continue
			}
			if extra := difference(pass.facts.agentCaps(to), pass.facts.agentCaps(from)); extra.n > 0 {
				sender := pass.facts.quotedAgent(from)
				pass.Report(h.Path(), h.Pos, pass.describeAfter(extra,
					"hand-off ", sender, " -> ", pass.facts.quotedAgent(to), " (", h.Mode, ") lets ", sender, " reach capabilities it lacks: "))
			}
		}
	},
}

// HandoffCycle is AC032.
var HandoffCycle = &Check{
	ID: "AC032", Slug: "handoff-cycle", Family: familyHandoffs,
	Title:    "Hand-offs form a cycle",
	Severity: Medium, LowTier: Low,
	Rationale: "A cycle lets a task circulate between agents: with forward_credentials it " +
		"accumulates authority on each round, and loops are how runaway agent systems burn " +
		"budgets and amplify failures.",
	Remediation: "Break the cycle: remove a hand-off or route the return path through a human.",
	Frameworks:  Frameworks{ASI: []string{"ASI08"}, MAESTRO: []string{"L7"}, NIST: []string{"MANAGE 2.4"}},
	Example: `agents: {triage: {}, billing: {}}
handoffs: [
	{from: "triage", to: "billing", mode: "attenuate"},
	{from: "billing", to: "triage", mode: "attenuate"},
]`,
	Fix: `agents: {triage: {}, billing: {}}
handoffs: [
	{from: "triage", to: "billing", mode: "attenuate"},
]`,
	Run: func(pass *Pass) {
		g := pass.facts.graph()
		for _, comp := range g.cyclic() {
			e, cycle := g.cycleWitness(comp)
			h := pass.Policy.Handoffs[e]
			msg := "hand-offs form a cycle: " + strings.Join(cycle, " -> ")
			if len(comp) > len(cycle)-1 {
				msg += fmt.Sprintf(" (part of a strongly connected group of %d agents)", len(comp))
			}
			// The cycle is its agents: which hand-off witnesses it depends on list order.
			pass.reportAbout("handoffs.cycle{"+strings.Join(g.sortedNames(comp), ",")+"}", h.Path(), h.Pos, msg)
		}
	},
}

// ChainExceedsDepth is AC033.
var ChainExceedsDepth = &Check{
	ID: "AC033", Slug: "chain-exceeds-depth", Family: familyHandoffs,
	Title:    "Hand-off chain longer than max_chain_depth",
	Severity: Medium, LowTier: Low,
	Rationale: "The runtime denies a chain deeper than settings.max_chain_depth " +
		"(CHAIN_TOO_DEEP). A declared path longer than that either breaks at run time or hints " +
		"that the limit is set too low; long chains also dilute accountability.",
	Remediation: "Shorten the path (remove or reroute hand-offs) or raise " +
		"settings.max_chain_depth deliberately.",
	Frameworks: Frameworks{ASI: []string{"ASI08"}, MAESTRO: []string{"L7"}, NIST: []string{"MANAGE 2.4"}},
	Example: `settings: max_chain_depth: 1
agents: {triage: {}, billing: {}, ledger: {}}
handoffs: [
	{from: "triage", to: "billing", mode: "attenuate"},
	{from: "billing", to: "ledger", mode: "attenuate"},
]`,
	Fix: `settings: max_chain_depth: 2
agents: {triage: {}, billing: {}, ledger: {}}
handoffs: [
	{from: "triage", to: "billing", mode: "attenuate"},
	{from: "billing", to: "ledger", mode: "attenuate"},
]`,
	Run: func(pass *Pass) {
		depth := pass.Policy.Settings.MaxChainDepth
		g := pass.facts.graph()
		chains := g.longestPaths(depth + 1)
		// Paths are cut at depth+1 hand-offs, so every reported one ends the same way.
		tail := " has " + strconv.Itoa(depth+1) + " hand-offs, more than max_chain_depth " + strconv.Itoa(depth)
		for v, path := range chains {
			if len(path) <= depth {
				continue
			}
			size := len("hand-off chain ") + len(g.names[v]) + len(tail)
			for _, e := range path {
				size += len(" -> ") + len(g.names[g.ends[e][1]])
			}
			var b strings.Builder
			b.Grow(size)
			b.WriteString("hand-off chain ")
			b.WriteString(g.names[v])
			for _, e := range path {
				b.WriteString(" -> ")
				b.WriteString(g.names[g.ends[e][1]]) // the receiver of hand-off e
			}
			b.WriteString(tail)
			// One finding per first sender; the longest path chosen depends on list order.
			h := pass.Policy.Handoffs[path[0]]
			pass.reportAbout("handoffs.chain{from="+g.names[v]+"}", h.Path(), h.Pos, b.String())
		}
	},
}

// LethalTrifecta is AC034.
var LethalTrifecta = &Check{
	ID: "AC034", Slug: "lethal-trifecta", Family: familyHandoffs,
	Title:    "Agent combines untrusted input, sensitive data and external egress",
	Severity: Critical, LowTier: High,
	Rationale: "An agent that reads content outsiders control, reads confidential or regulated " +
		"data, and can write to an external tool can be prompt-injected into exfiltrating that " +
		"data: the lethal trifecta.",
	Remediation: "Split the agent so no single agent holds all three, drop the external " +
		"non-read capability, or route egress through an approval rule and an attenuating hand-off.",
	Frameworks: Frameworks{ASI: []string{"ASI01", "ASI02"}, MAESTRO: []string{"L2"}, NIST: []string{"MEASURE 2.7"}},
	Example: "tools: {\n\tcrm: {auth: kind: \"workload_identity\", actions: read: {effect: \"read\", data: \"regulated\"}}\n" +
		"\tmail: {external: true, auth: kind: \"workload_identity\", actions: send: effect: \"write\"}\n}\n" +
		"agents: assistant: {\n\tuntrusted_input: true\n\tgrants: [{tool: \"crm\", actions: [\"read\"]}, {tool: \"mail\", actions: [\"send\"], jit: true}]\n}",
	Fix: `tools: {
	crm: {auth: kind: "workload_identity", actions: read: {effect: "read", data: "regulated"}}
	mail: {external: true, auth: kind: "workload_identity", actions: send: effect: "write"}
}
agents: {
	assistant: {
		untrusted_input: true
		grants: [{tool: "crm", actions: ["read"]}]
	}
	notifier: grants: [{tool: "mail", actions: ["send"], jit: true}]
}`,
	Run: func(pass *Pass) {
		m := pass.facts.capMasks()
		ix := pass.Policy.Caps()
		name, _ := pass.facts.capText()
		for ai, a := range pass.Policy.Agents {
			caps := pass.facts.agentCaps(ai)
			sensitive := caps.sample(m.sensitiveRead)
			egress := caps.sample(m.externalNonRead)
			if sensitive.n == 0 || egress.n == 0 {
				continue
			}
			var untrusted string
			if a.UntrustedInput {
				untrusted = "untrusted_input"
			} else if ext := caps.sample(m.externalRead); ext.n > 0 {
				untrusted = ext.list(name, "external reads ")
			} else {
				continue
			}
			var items [sampleSize]string
			ids := sensitive.ids()
			for i, id := range ids {
				items[i] = name[id] + " (" + ix.Action(id).Data + ")"
			}
			reads := joinAfter(nil, items[:len(ids)], sensitive.n)
			pass.Report(a.Path(), a.Pos, "agent "+pass.facts.quotedAgent(ai)+" combines untrusted input ["+untrusted+
				"], sensitive reads ["+reads+"] and external egress ["+pass.describe(egress)+"]")
		}
	},
}
