package lint

import "github.com/agentctl/agentctl/policy"

const familyFlow = "Information flow"

// UntrustedCodeExecution is AC035.
var UntrustedCodeExecution = &Check{
	ID: "AC035", Slug: "untrusted-code-execution", Family: familyFlow,
	Title:    "Code execution reachable from untrusted content without a guard",
	Severity: Critical, LowTier: High,
	Rationale: "An agent whose task can carry content outsiders control (its own untrusted " +
		"input, a read in the untrusted flow class, or a hand-off from such an agent, with " +
		"the authority the hand-off's mode passes on) and that can execute code turns a " +
		"prompt injection into code execution. Nothing at runtime stops it unless the " +
		"integrity rule guards `execute` or a human approves.",
	Remediation: "Enable `settings.flow.integrity` with `execute` among its effects (the " +
		"default effects include it), add an approval rule matching the capability, or move " +
		"execution to an agent that never handles untrusted content.",
	Frameworks: Frameworks{ASI: []string{"ASI05"}, MAESTRO: []string{"L3"}, NIST: []string{"MEASURE 2.7", "MANAGE 2.4"}},
	Example: "tools: {\n\tweb: {external: true, auth: kind: \"workload_identity\", actions: fetch: effect: \"read\"}\n" +
		"\tshell: {auth: kind: \"workload_identity\", actions: run: effect: \"execute\"}\n}\n" +
		"agents: coder: grants: [{tool: \"web\", actions: [\"fetch\"]}, {tool: \"shell\", actions: [\"run\"], jit: true}]",
	Fix: `tools: {
	web: {external: true, auth: kind: "workload_identity", actions: fetch: effect: "read"}
	shell: {auth: kind: "workload_identity", actions: run: effect: "execute"}
}
agents: coder: grants: [{tool: "web", actions: ["fetch"]}, {tool: "shell", actions: ["run"], jit: true}]
settings: flow: integrity: on: "needs_approval"`,
	Run: func(pass *Pass) {
		m, cover := pass.facts.capMasks(), pass.facts.approvals()
		execute := m.byEffect[policy.EffectExecute]
		if execute == nil {
			return
		}
		guarded := pass.facts.integrityGuarded()
		untrusted := pass.facts.untrustedContext()
		for ai, a := range pass.Policy.Agents {
			if untrusted[ai].why == "" {
				continue
			}
			own := cover.of(a.Name)
			var s sample
			for _, w := range untrusted[ai].caps {
				x := w.bits & execute[w.at] &^ cover.any[w.at]
				if own != nil {
					x &^= own[w.at]
				}
				if a.FlowExempt == "" {
					x &^= guarded[w.at]
				}
				s.addWord(w.at, x)
			}
			if s.n > 0 {
				pass.Report(a.Path(), a.Pos, pass.describeAfter(s, "agent ", pass.facts.quotedAgent(ai),
					" handles untrusted content [", untrusted[ai].why,
					"] and executes code that neither the integrity rule nor an approval guards: "))
			}
		}
	},
}

// PoisonableMemory is AC036.
var PoisonableMemory = &Check{
	ID: "AC036", Slug: "poisonable-memory", Family: familyFlow,
	Title:    "Store written from untrusted content and read back as trusted",
	Severity: High, LowTier: Medium,
	Rationale: "A tool that agents write to and read from (memory, notes, a vector store, a " +
		"ticket queue) keeps what an injected agent wrote after its task ends. When an agent " +
		"holding high-risk capabilities reads it back in the trusted flow class, the planted " +
		"instructions reach it with no untrusted label, so neither the flow rule nor the " +
		"integrity rule sees them.",
	Remediation: "Declare the store's read actions `untrusted: true` so what they return " +
		"labels the task, or keep agents that handle untrusted content from writing the store.",
	Frameworks: Frameworks{ASI: []string{"ASI06"}, MAESTRO: []string{"L2"}, NIST: []string{"MEASURE 2.7", "MANAGE 2.4"}},
	Example: "tools: {\n\tinbox: {external: true, auth: kind: \"workload_identity\", actions: read: effect: \"read\"}\n" +
		"\tmemory: {auth: kind: \"workload_identity\", actions: {save: effect: \"write\", recall: effect: \"read\"}}\n" +
		"\tpayments: {auth: kind: \"workload_identity\", actions: pay: effect: \"payment\"}\n}\n" +
		"agents: {\n\tmailer: grants: [{tool: \"inbox\", actions: [\"read\"]}, {tool: \"memory\", actions: [\"save\"], jit: true}]\n" +
		"\tpayer: grants: [{tool: \"memory\", actions: [\"recall\"]}, {tool: \"payments\", actions: [\"pay\"], jit: true}]\n}",
	Fix: `tools: {
	inbox: {external: true, auth: kind: "workload_identity", actions: read: effect: "read"}
	memory: {auth: kind: "workload_identity", actions: {save: effect: "write", recall: {effect: "read", untrusted: true}}}
	payments: {auth: kind: "workload_identity", actions: pay: effect: "payment"}
}
agents: {
	mailer: grants: [{tool: "inbox", actions: ["read"]}, {tool: "memory", actions: ["save"], jit: true}]
	payer: grants: [{tool: "memory", actions: ["recall"]}, {tool: "payments", actions: ["pay"], jit: true}]
}`,
	Run: func(pass *Pass) {
		p, m := pass.Policy, pass.facts.capMasks()
		untrusted := pass.facts.untrustedContext()
		name, _ := pass.facts.capText()
		pass.facts.indexTools()
		for ti, t := range p.Tools {
			// A store: the tool has a write action and a read outside the untrusted class.
			var writes, trustedReads []int
			for i, act := range t.Actions {
				id := pass.facts.base[ti] + i
				switch {
				case act.Effect == policy.EffectWrite:
					writes = append(writes, id)
				case act.Effect == policy.EffectRead && !m.externalRead.Has(id):
					trustedReads = append(trustedReads, id)
				}
			}
			if len(writes) == 0 || len(trustedReads) == 0 {
				continue
			}
			writer, written := "", ""
			for ai := range p.Agents {
				if id, ok := untrusted[ai].caps.held(writes); ok {
					writer, written = pass.facts.quotedAgent(ai), name[id]
					break
				}
			}
			if writer == "" {
				continue
			}
			reader, read := "", ""
			var risky sample
			for ai := range p.Agents {
				id, ok := pass.facts.agentCaps(ai).held(trustedReads)
				if !ok {
					continue
				}
				if risky = pass.facts.agentCaps(ai).sample(m.highRisk); risky.n > 0 {
					reader, read = pass.facts.quotedAgent(ai), name[id]
					break
				}
			}
			if reader == "" {
				continue
			}
			pass.Report(t.Path(), t.Pos, pass.describeAfter(risky, "tool ", q(t.Name), " is written by agent ", writer,
				" (", written, ") from untrusted content and read back as trusted by agent ", reader,
				" (", read, "), which holds high-risk capabilities: "))
		}
	},
}
