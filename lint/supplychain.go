package lint

const familySupplyChain = "Supply chain"

// ThirdPartyToolWrite is AC040.
var ThirdPartyToolWrite = &Check{
	ID: "AC040", Slug: "third-party-tool-write", Family: familySupplyChain,
	Title:    "Standing, unapproved write on an MCP or third-party tool",
	Severity: High, LowTier: Medium,
	Rationale: "MCP servers and third-party tools are code and data outside your control: a " +
		"poisoned tool description or a compromised server can steer an agent. Non-read " +
		"effects on them should be issued just in time or pass a human.",
	Remediation: "Mark the grant `jit: true` or add an approval rule matching the capability.",
	Frameworks:  Frameworks{ASI: []string{"ASI04"}, NHI: []string{"NHI3:2025"}, MAESTRO: []string{"L3"}, NIST: []string{"GOVERN 6.1", "MANAGE 3.1"}},
	Example: "tools: slack: {source: \"mcp\", auth: kind: \"ephemeral_token\", actions: post: effect: \"write\"}\n" +
		"agents: notifier: grants: [{tool: \"slack\", actions: [\"post\"]}]",
	Fix: `tools: slack: {source: "mcp", auth: kind: "ephemeral_token", actions: post: effect: "write"}
agents: notifier: grants: [{tool: "slack", actions: ["post"], jit: true}]`,
	Run: func(pass *Pass) {
		m, cover := pass.facts.capMasks(), pass.facts.approvals()
		for ai, a := range pass.Policy.Agents {
			own := cover.of(a.Name)
			for gi, g := range a.Grants {
				if g.JIT {
					continue
				}
				var s sample
				for _, w := range pass.facts.grantCaps(ai, gi) {
					x := w.bits & m.thirdPartyNonRead[w.at] &^ cover.any[w.at]
					if own != nil {
						x &^= own[w.at]
					}
					s.addWord(w.at, x)
				}
				if s.n > 0 {
					pass.Report(g.Path, g.Pos, pass.describeAfter(s, "agent ", pass.facts.quotedAgent(ai),
						" holds non-read capabilities on MCP or third-party tools without jit or approval: "))
				}
			}
		}
	},
}
