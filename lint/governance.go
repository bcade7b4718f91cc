package lint

import (
	"fmt"
	"strings"
)

const familyGovernance = "Governance and observability"

// AuditDisabled is AC050.
var AuditDisabled = &Check{
	ID: "AC050", Slug: "audit-disabled", Family: familyGovernance,
	Title:    "Audit switch turned off",
	Severity: High, LowTier: Medium,
	Rationale: "Without audit records of tool calls, approvals and chains, incidents involving " +
		"agents cannot be reconstructed and rogue behaviour goes unnoticed.",
	Remediation: "Leave `settings.audit.tool_calls`, `.approvals` and `.chains` at true.",
	Frameworks:  Frameworks{ASI: []string{"ASI10"}, MAESTRO: []string{"L5"}, NIST: []string{"MEASURE 2.4", "MANAGE 4.1"}},
	Example:     "settings: audit: chains: false",
	Fix:         "settings: audit: chains: true",
	Run: func(pass *Pass) {
		a := pass.Policy.Settings.Audit
		for _, s := range []struct {
			field string
			on    bool
			what  string
		}{
			{"tool_calls", a.ToolCalls, "tool calls"},
			{"approvals", a.Approvals, "approval decisions"},
			{"chains", a.Chains, "hand-off chains"},
		} {
			if !s.on {
				path := "settings.audit." + s.field
				pass.Reportf(path, pass.pos(pass.Policy.Pos("settings.audit"), path, "settings"),
					"%s is false: %s are not audited", path, s.what)
			}
		}
	},
}

// MissingOwner is AC051.
var MissingOwner = &Check{
	ID: "AC051", Slug: "missing-owner", Family: familyGovernance,
	Title:    "Agent without an owner",
	Severity: Medium, LowTier: Low,
	Rationale: "An agent nobody is accountable for is not reviewed, not rotated and not " +
		"offboarded: the non-human identity outlives its purpose.",
	Remediation: "Set `owner` to the accountable person or team.",
	Frameworks:  Frameworks{ASI: []string{"ASI03"}, NHI: []string{"NHI1:2025"}, MAESTRO: []string{"L6"}, NIST: []string{"GOVERN 2.1"}},
	Example:     "agents: billing: grants: []",
	Fix:         "agents: billing: {\n\towner: \"payments-team\"\n\tgrants: []\n}",
	Run: func(pass *Pass) {
		for ai, a := range pass.Policy.Agents {
			if strings.TrimSpace(a.Owner) == "" {
				pass.Report(a.Path(), a.Pos, "agent "+pass.facts.quotedAgent(ai)+" has no owner")
			}
		}
	},
}

// NoSessionLimits is AC052.
var NoSessionLimits = &Check{
	ID: "AC052", Slug: "no-session-limits", Family: familyGovernance,
	Title:    "Autonomous agent without session limits",
	Severity: Medium, LowTier: Low,
	Rationale: "An autonomous agent with no cap on actions or run time can loop, burn budgets " +
		"and keep acting long after anyone is watching.",
	Remediation: "Set both `session.max_actions` and `session.max_duration`.",
	Frameworks:  Frameworks{ASI: []string{"ASI10"}, MAESTRO: []string{"L5"}, NIST: []string{"MANAGE 2.4"}},
	Example:     "agents: ops: {autonomy: \"autonomous\", grants: []}",
	Fix:         "agents: ops: {\n\tautonomy: \"autonomous\"\n\tsession: {max_actions: 200, max_duration: \"30m\"}\n\tgrants: []\n}",
	Run: func(pass *Pass) {
		for _, a := range pass.Policy.Agents {
			if a.Autonomy != "autonomous" {
				continue
			}
			var missing []string
			s := a.Session
			if s == nil || s.MaxActions <= 0 {
				missing = append(missing, "session.max_actions")
			}
			if s == nil || !s.HasMaxDuration {
				missing = append(missing, "session.max_duration")
			}
			if len(missing) == 0 {
				continue
			}
			path, pos := a.Path(), a.Pos
			if s != nil {
				path = a.Path() + ".session"
				pos = pass.pos(s.Pos, path)
			}
			pass.Reportf(path, pos, "autonomous agent %q has no %s", a.Name, strings.Join(missing, " and no "))
		}
	},
}

// SuppressionWithoutReason is AC053.
var SuppressionWithoutReason = &Check{
	ID: "AC053", Slug: "suppression-without-reason", Family: familyGovernance,
	Title:    "@ignore without a reason",
	Severity: Medium,
	Rationale: "A suppression is a risk acceptance; without a written reason nobody can review " +
		"it later. An @ignore without a reason suppresses nothing.",
	Remediation: "Give the reason as the second argument: `@ignore(\"AC010\", \"why this is accepted\")`.",
	Frameworks:  Frameworks{MAESTRO: []string{"L6"}, NIST: []string{"MEASURE 2.8"}},
	Example: `tools: inventory: {auth: kind: "workload_identity", actions: read: effect: "read"}
agents: ops: {
	@ignore("AC010")
	grants: [{tool: "*", actions: ["read"]}]
}`,
	Fix: `tools: inventory: {auth: kind: "workload_identity", actions: read: effect: "read"}
agents: ops: {
	@ignore("AC010", "read-only inventory agent, reviewed by secops 2026-10")
	grants: [{tool: "*", actions: ["read"]}]
}`,
	Run: func(pass *Pass) {
		for _, ig := range pass.Policy.Ignores {
			if strings.TrimSpace(ig.Reason) == "" {
				pass.reportAbout(pass.subject(ig.Path)+"@ignore("+ig.Check+")", ig.Path, ig.Pos,
					fmt.Sprintf("@ignore(%q) on %s has no reason, so it suppresses nothing", ig.Check, pathLabel(ig.Path)))
			}
		}
	},
}

// UnknownSuppression is AC054 (an addition to the contract's catalogue).
var UnknownSuppression = &Check{
	ID: "AC054", Slug: "unknown-suppression", Family: familyGovernance,
	Title:    "@ignore names no known check",
	Severity: Medium,
	Rationale: "An @ignore whose check ID or slug is misspelt suppresses nothing while its " +
		"author believes the risk is accepted.",
	Remediation: "Use a check ID or slug from `agentctl checks`.",
	Frameworks:  Frameworks{MAESTRO: []string{"L6"}, NIST: []string{"MEASURE 2.8"}},
	Example:     "agents: ops: {\n\t@ignore(\"AC01\", \"accepted\")\n\tgrants: []\n}",
	Fix:         "agents: ops: {\n\t@ignore(\"AC010\", \"accepted\")\n\tgrants: []\n}",
	Run: func(pass *Pass) {
		for _, ig := range pass.Policy.Ignores {
			if !pass.facts.known[ig.Check] {
				pass.reportAbout(pass.subject(ig.Path)+"@ignore("+ig.Check+")", ig.Path, ig.Pos,
					fmt.Sprintf("@ignore(%q) on %s names no known check", ig.Check, pathLabel(ig.Path)))
			}
		}
	},
}

func pathLabel(path string) string {
	if path == "" {
		return "the whole policy"
	}
	return path
}
