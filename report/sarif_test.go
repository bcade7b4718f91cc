package report

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/agentctl/agentctl/internal/testtool"
)

// sampleFindings has an active finding, an inline-suppressed one, a baselined one and one
// without a source position.
func sampleFindings() Findings {
	fw := Frameworks{ASI: []string{"ASI03"}, NHI: []string{"NHI5:2025"}, MAESTRO: []string{"L6"}, NIST: []string{"MEASURE 2.7"}}
	return Findings{
		Rules: []Rule{
			{ID: "AC010", Slug: "wildcard-grant", Title: "Grant uses a wildcard", Family: "Entitlements", Severity: "high", LowTierSeverity: "medium",
				Rationale: "Wildcards grow.", Remediation: "Name the tools.", Frameworks: fw, Example: `agents: a: grants: [{tool: "*", actions: ["*"]}]`, Fix: `agents: a: grants: []`},
			{ID: "AC050", Slug: "audit-disabled", Title: "Audit switch turned off", Family: "Governance", Severity: "high", LowTierSeverity: "medium",
				Rationale: "Audit matters.", Remediation: "Turn it on.", Frameworks: Frameworks{ASI: []string{}, NHI: []string{}, MAESTRO: []string{"L5"}, NIST: []string{"MEASURE 2.4"}}},
		},
		Findings: []Finding{
			{Check: "AC010", Slug: "wildcard-grant", Severity: "high", Message: `agent "ops" has a wildcard grant`, File: "estate/policy.cue", Line: 3, Column: 5,
				Element: "agents.ops.grants[0]", Frameworks: fw, Fingerprint: "0123456789abcdef", Failing: true},
			{Check: "AC010", Slug: "wildcard-grant", Severity: "high", Message: `agent "bi" has a wildcard grant`, File: "estate/policy.cue", Line: 9, Column: 5,
				Element: "agents.bi.grants[0]", Frameworks: fw, Suppressed: true, Suppression: &Suppression{Kind: "inline", Reason: "read-only, reviewed"}, Fingerprint: "1123456789abcdef"},
			{Check: "AC010", Slug: "wildcard-grant", Severity: "medium", Message: `agent "old" has a wildcard grant`, File: "estate/other.cue", Line: 1, Column: 1,
				Element: "agents.old.grants[1]", Frameworks: fw, Suppressed: true, Suppression: &Suppression{Kind: "baseline"}, Fingerprint: "2123456789abcdef"},
			{Check: "AC050", Slug: "audit-disabled", Severity: "high", Message: "settings.audit.chains is false", Element: "settings.audit.chains",
				Frameworks: fw, Fingerprint: "3123456789abcdef", Failing: true},
			{Check: "AC010", Slug: "wildcard-grant", Severity: "medium", Message: `agent "bot" has a wildcard resource`, File: "estate/policy.cue", Line: 20, Column: 5,
				Element: "agents.bot.grants[0]", Frameworks: fw, Fingerprint: "4123456789abcdef"},
		},
		Files:   []string{"estate/other.cue", "estate/policy.cue"},
		FailOn:  "high",
		Version: "v1.2.3",
		Root:    "/repo",
		LoadErrors: []LoadError{{Dir: "broken", File: "broken/policy.cue", Line: 2, Column: 7,
			Message: `agents.x.autonomy: invalid value "sometimes" (want "supervised" or "autonomous")`}},
	}
}

func TestSARIFValidates(t *testing.T) {
	var b bytes.Buffer
	if err := SARIF(&b, sampleFindings()); err != nil {
		t.Fatal(err)
	}
	for _, e := range testtool.SARIFErrors(t, b.Bytes()) {
		t.Errorf("SARIF schema: %s", e)
	}
	// The validator is live: a wrong level is rejected.
	broken := bytes.Replace(b.Bytes(), []byte(`"level": "error"`), []byte(`"level": "fatal"`), 1)
	if len(testtool.SARIFErrors(t, broken)) == 0 {
		t.Error("schema accepted level \"fatal\"")
	}
	// The schema is permissive about the parts code scanning relies on: check them.
	var log struct {
		Runs []struct {
			AutomationDetails  struct{ ID string }
			OriginalURIBaseIDs map[string]struct{ URI string } `json:"originalUriBaseIds"`
			Tool               struct {
				Driver struct {
					Version, SemanticVersion string
					Rules                    []struct {
						ID         string
						Help       struct{ Text, Markdown string }
						Properties struct {
							Tags             []string
							SecuritySeverity string `json:"security-severity"`
						}
					}
				}
			}
			Results []struct {
				RuleID              string
				RuleIndex           int
				Level               string
				PartialFingerprints map[string]string
				Locations           []struct {
					PhysicalLocation *struct {
						ArtifactLocation struct{ URI, URIBaseID string }
						Region           struct{ StartLine, StartColumn int }
					}
				}
				Suppressions []struct{ Kind, Justification string }
			}
		}
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	rule := run.Tool.Driver.Rules[0]
	if got := rule.Properties.Tags; len(got) != 5 || got[1] != "ASI03" || got[2] != "NHI5:2025" || got[3] != "MAESTRO-L6" || got[4] != "NIST-AI-RMF:MEASURE-2.7" {
		t.Errorf("tags = %q", got)
	}
	if rule.Help.Text == "" || rule.Help.Markdown == "" || rule.Properties.SecuritySeverity != "8.0" {
		t.Errorf("rule help or severity missing: %+v", rule)
	}
	r := run.Results
	if len(r) != 6 {
		t.Fatalf("%d results, want 6 (suppressed ones and the load error included)", len(r))
	}
	d := run.Tool.Driver
	if d.Version != "v1.2.3" || d.SemanticVersion != "1.2.3" || run.AutomationDetails.ID != "agentctl/" || run.OriginalURIBaseIDs["SRCROOT"].URI != "file:///repo/" {
		t.Errorf("driver %+v, automation %+v, base ids %+v", d, run.AutomationDetails, run.OriginalURIBaseIDs)
	}
	if loc := r[0].Locations[0].PhysicalLocation; loc == nil || loc.ArtifactLocation.URI != "estate/policy.cue" || loc.ArtifactLocation.URIBaseID != "SRCROOT" || loc.Region.StartLine != 3 || loc.Region.StartColumn != 5 {
		t.Errorf("result 0 location = %+v", r[0].Locations)
	}
	if r[0].PartialFingerprints[FingerprintKey] != "0123456789abcdef" || r[0].Level != "error" || len(r[0].Suppressions) != 0 {
		t.Errorf("result 0 = %+v", r[0])
	}
	if s := r[1].Suppressions; len(s) != 1 || s[0].Kind != "inSource" || s[0].Justification != "read-only, reviewed" {
		t.Errorf("inline suppression = %+v", s)
	}
	if s := r[2].Suppressions; len(s) != 1 || s[0].Kind != "external" || r[2].Level != "warning" {
		t.Errorf("baseline suppression = %+v, level %s", s, r[2].Level)
	}
	if r[3].RuleIndex != 1 || r[3].Locations[0].PhysicalLocation != nil {
		t.Errorf("result 3 = %+v", r[3])
	}
	if last := r[5]; last.RuleID != LoadErrorRule || last.RuleIndex != 2 || last.Level != "error" || last.Locations[0].PhysicalLocation.Region.StartLine != 2 {
		t.Errorf("load error result = %+v", last)
	}
}
