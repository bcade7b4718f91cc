package lint

const familyApprovals = "Human approval"

// HighRiskWithoutApproval is AC020.
var HighRiskWithoutApproval = &Check{
	ID: "AC020", Slug: "high-risk-without-approval", Family: familyApprovals,
	Title:    "High-risk capability without an approval rule",
	Severity: Critical, LowTier: High,
	Rationale: "Payments, deploys, privilege escalation, exports and deletions are the actions " +
		"whose mistakes cannot be undone; without a human in the loop a prompt injection or " +
		"a confused agent executes them directly.",
	Remediation: "Add an approval rule whose match covers the capability (by effect, tool, " +
		"action, data class or agent). A rule with a threshold counts as coverage.",
	Frameworks: Frameworks{ASI: []string{"ASI02", "ASI09"}, MAESTRO: []string{"L6"}, NIST: []string{"MAP 3.5", "GOVERN 3.2"}},
	Example: "tools: payments: {auth: kind: \"workload_identity\", actions: refund: effect: \"payment\"}\n" +
		"agents: billing: grants: [{tool: \"payments\", actions: [\"refund\"], jit: true}]",
	Fix: `tools: payments: {auth: kind: "workload_identity", actions: refund: effect: "payment"}
agents: billing: grants: [{tool: "payments", actions: ["refund"], jit: true}]
approvals: refunds: {
	match: effects: ["payment"]
	require: role: "finance-lead"
	timeout: "30m"
}`,
	Run: func(pass *Pass) {
		m, cover := pass.facts.capMasks(), pass.facts.approvals()
		reported := pass.Policy.Caps().New() // per agent: report a capability at its first grant
		for ai, a := range pass.Policy.Agents {
			own := cover.of(a.Name)
			for gi, g := range a.Grants {
				var s sample
				for _, w := range pass.facts.grantCaps(ai, gi) {
					// High-risk, matched by no rule, not reported at an earlier grant.
					i := w.at
					x := w.bits & m.highRisk[i] &^ cover.any[i] &^ reported[i]
					if own != nil {
						x &^= own[i]
					}
					reported[i] |= x
					s.addWord(i, x)
				}
				if s.n > 0 {
					pass.Report(g.Path, g.Pos, pass.describeAfter(s,
						"agent ", pass.facts.quotedAgent(ai), " holds high-risk capabilities that no approval rule matches: "))
				}
			}
			for gi := range a.Grants {
				for _, w := range pass.facts.grantCaps(ai, gi) {
					reported[w.at] = 0
				}
			}
		}
	},
}

// ApprovalWithoutTimeout is AC021.
var ApprovalWithoutTimeout = &Check{
	ID: "AC021", Slug: "approval-without-timeout", Family: familyApprovals,
	Title:    "Approval rule without a timeout",
	Severity: Low,
	Rationale: "A pending approval that never expires can be granted long after its context is " +
		"gone, and approvers learn to rubber-stamp stale queues.",
	Remediation: "Set `timeout` on the rule, e.g. `timeout: \"30m\"`.",
	Frameworks:  Frameworks{ASI: []string{"ASI09"}, MAESTRO: []string{"L6"}, NIST: []string{"MAP 3.5"}},
	Example:     "approvals: refunds: {\n\tmatch: effects: [\"payment\"]\n\trequire: role: \"finance-lead\"\n}",
	Fix:         "approvals: refunds: {\n\tmatch: effects: [\"payment\"]\n\trequire: role: \"finance-lead\"\n\ttimeout: \"30m\"\n}",
	Run: func(pass *Pass) {
		for _, r := range pass.Policy.Approvals {
			if !r.HasTimeout {
				pass.Reportf(r.Path(), r.Pos, "approval rule %q has no timeout: pending approvals never expire", r.Name)
			}
		}
	},
}

// AgentAsApprover is AC022.
var AgentAsApprover = &Check{
	ID: "AC022", Slug: "agent-as-approver", Family: familyApprovals,
	Title:    "Approval role names an agent",
	Severity: High, LowTier: Medium,
	Rationale: "Human approval exists to put a person between an agent and an irreversible " +
		"action. A role named after an agent suggests an agent is meant to approve, which " +
		"defeats the control (and the runtime never counts agents as approvers).",
	Remediation: "Require a human role, e.g. `require: role: \"finance-lead\"`.",
	Frameworks:  Frameworks{ASI: []string{"ASI09"}, NHI: []string{"NHI10:2025"}, MAESTRO: []string{"L7"}, NIST: []string{"GOVERN 3.2"}},
	Example:     "agents: supervisor: grants: []\napprovals: refunds: {\n\tmatch: effects: [\"payment\"]\n\trequire: role: \"supervisor\"\n\ttimeout: \"30m\"\n}",
	Fix:         "approvals: refunds: {\n\tmatch: effects: [\"payment\"]\n\trequire: role: \"finance-lead\"\n\ttimeout: \"30m\"\n}",
	Run: func(pass *Pass) {
		for _, r := range pass.Policy.Approvals {
			if pass.Policy.Agent(r.Require.Role) != nil {
				path := r.Path() + ".require.role"
				pass.Reportf(path, pass.pos(r.Pos, path, r.Path()+".require"),
					"approval rule %q requires role %q, which names an agent of the policy: agents cannot approve", r.Name, r.Require.Role)
			}
		}
	},
}
