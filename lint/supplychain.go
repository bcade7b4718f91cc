package lint

import "strings"

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

// MCPToolUnpinned is AC041.
var MCPToolUnpinned = &Check{
	ID: "AC041", Slug: "mcp-tool-unpinned", Family: familySupplyChain,
	Title:    "MCP tool actions without pins",
	Severity: Medium, LowTier: Low,
	Rationale: "An MCP server can change a tool's description, input schema or annotations " +
		"after it was reviewed (a rug pull), and the model follows the new text. Without a " +
		"pin of what was reviewed nobody notices the change.",
	Remediation: "Import the tool with `agentctl import mcp`, which records a `pin` per action, " +
		"and run `agentctl import mcp --check` against the live server in CI.",
	Frameworks: Frameworks{ASI: []string{"ASI04"}, NHI: []string{"NHI3:2025"}, MAESTRO: []string{"L7"}, NIST: []string{"GOVERN 6.1", "MANAGE 3.1"}},
	Example:    "tools: files: {source: \"mcp\", auth: kind: \"ephemeral_token\", actions: read_file: effect: \"read\"}",
	Fix: `tools: files: {source: "mcp", auth: kind: "ephemeral_token", actions: read_file: {
	effect: "read"
	pin: {
		tool:         "read_file"
		description:  "sha256:6f1ed002ab5595859014ebf0951522d9b2ea7d9a4b3a8a0e6f1e5b2a4c6d8e0f"
		input_schema: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
		hints: {read_only: true, destructive: false, idempotent: true, open_world: false}
	}
}}`,
	Run: func(pass *Pass) {
		for _, t := range pass.Policy.Tools {
			if t.Source != "mcp" {
				continue
			}
			var unpinned []string
			for _, a := range t.Actions {
				if a.Pin == nil {
					unpinned = append(unpinned, q(a.Name))
				}
			}
			if len(unpinned) > 0 {
				pass.Report(t.Path(), t.Pos, "MCP tool "+q(t.Name)+" has actions without a pin: "+
					strings.Join(unpinned, ", ")+" (a changed description or schema on the server goes unnoticed)")
			}
		}
	},
}
