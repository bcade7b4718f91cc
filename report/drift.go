package report

import (
	"github.com/agentctl/agentctl/mcp"
)

// DriftDocsURL documents the drift kinds of `agentctl import mcp --check`.
const DriftDocsURL = "https://github.com/agentctl/agentctl/blob/main/docs/import.md#drift"

// driftRules describe the kinds of drift `import mcp --check` reports, as rules of the
// findings renderers (SARIF needs one per result). Every drift fails the check but
// mcp-pin-old, a note.
var driftRules = []struct {
	kind string
	rule Rule
}{
	{mcp.Added, Rule{ID: "mcp-tool-added", Severity: "medium", Title: "Tool added on the MCP server",
		Rationale:   "The server offers a tool nobody reviewed; an agent granted a wildcard on the tool block, or a re-import, would pick it up unnoticed.",
		Remediation: "Review the tool, then re-import the server or leave the tool out of every grant."}},
	{mcp.Removed, Rule{ID: "mcp-tool-removed", Severity: "low", Title: "Pinned tool removed from the MCP server",
		Rationale:   "The policy grants a tool the server no longer offers; a later tool of the same name would inherit the grant.",
		Remediation: "Remove the action and its grants, or re-import the server."}},
	{mcp.Description, Rule{ID: "mcp-description-changed", Severity: "high", Title: "Pinned tool's description changed",
		Rationale:   "The description is what the model reads: a changed one can carry injected instructions (tool poisoning, rug pull).",
		Remediation: "Read the new description; if it is benign, re-import to update the pin."}},
	{mcp.InputSchema, Rule{ID: "mcp-schema-changed", Severity: "high", Title: "Pinned tool's input schema changed",
		Rationale:   "New or changed parameters change what the model sends and can carry injected text in their descriptions.",
		Remediation: "Review the new schema; if it is benign, re-import to update the pin."}},
	{mcp.Widened, Rule{ID: "mcp-hints-widened", Severity: "high", Title: "Pinned tool's annotations widened",
		Rationale:   "The server now claims less safety (no longer read-only, destructive, open-world): the action's effect in the policy may understate it.",
		Remediation: "Re-import to update the effect and the pin, and review the grants and approvals of the action."}},
	{mcp.Title, Rule{ID: "mcp-title-changed", Severity: "medium", Title: "Pinned tool's title changed",
		Rationale:   "The title is what hosts show people for the tool: a changed one can pass a tool off as another.",
		Remediation: "Review the new title; if it is benign, re-import to update the pin."}},
	{mcp.OutputSchema, Rule{ID: "mcp-output-schema-changed", Severity: "high", Title: "Pinned tool's output schema changed",
		Rationale:   "The output schema shapes the structured results the model reads back, and its descriptions are text the model sees.",
		Remediation: "Review the new schema; if it is benign, re-import to update the pin."}},
	{mcp.Meta, Rule{ID: "mcp-meta-changed", Severity: "medium", Title: "Pinned tool's _meta changed",
		Rationale:   "_meta carries what hosts and extensions act on (UI resources, auth hints): a change alters behaviour nobody reviewed.",
		Remediation: "Review the change and re-import to update the pin."}},
	{mcp.OldPin, Rule{ID: "mcp-pin-old", Severity: "info", Title: "Pin written by an older agentctl",
		Rationale:   "A version 1 pin holds the description, input schema and annotations, not the title, output schema or _meta: changes there go unseen.",
		Remediation: "Re-import the server (agentctl import mcp) to write version 2 pins."}},
	{mcp.Narrowed, Rule{ID: "mcp-hints-narrowed", Severity: "medium", Title: "Pinned tool's annotations narrowed",
		Rationale:   "The server claims more safety than when it was reviewed; annotations are claims, so the change deserves a look.",
		Remediation: "Review the change and re-import to update the pin."}},
}

// DriftFindings turns drift into findings for the lint renderers (table, json, sarif,
// github). Every drift is failing but an old pin's note.
func DriftFindings(ds []mcp.Drift, files []string) Findings {
	byKind := map[string]Rule{}
	r := Findings{Files: files, FailOn: "info"}
	for _, dr := range driftRules {
		rule := dr.rule
		rule.Slug, rule.Family, rule.LowTierSeverity = rule.ID, "MCP drift", rule.Severity
		rule.Frameworks = Frameworks{ASI: []string{"ASI04"}, NHI: []string{}, MAESTRO: []string{"L7"}, NIST: []string{"MANAGE 3.1"}}
		rule.HelpURI = DriftDocsURL
		byKind[dr.kind] = rule
		r.Rules = append(r.Rules, rule)
	}
	r.Findings = []Finding{}
	for _, d := range ds {
		rule := byKind[d.Kind]
		r.Findings = append(r.Findings, Finding{
			Check: rule.ID, Slug: rule.Slug, Severity: rule.Severity, Message: d.Message,
			File: d.Pos.File, Line: d.Pos.Line, Column: d.Pos.Col, Element: d.Element,
			Frameworks: rule.Frameworks, Fingerprint: rule.ID + ":" + d.Element + ":" + d.Tool, Failing: d.Failing(),
		})
	}
	return r
}
