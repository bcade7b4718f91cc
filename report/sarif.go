package report

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/agentctl/agentctl/policy"
)

// SARIF 2.1.0 document types: only what agentctl emits.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool               sarifTool                `json:"tool"`
	AutomationDetails  sarifAutomation          `json:"automationDetails"`
	OriginalURIBaseIDs map[string]sarifArtifact `json:"originalUriBaseIds,omitempty"`
	Results            []sarifResult            `json:"results"`
}

type sarifAutomation struct {
	ID string `json:"id"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	SemVer         string      `json:"semanticVersion,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string             `json:"id"`
	Name                 string             `json:"name"`
	ShortDescription     sarifText          `json:"shortDescription"`
	FullDescription      sarifText          `json:"fullDescription"`
	Help                 sarifHelp          `json:"help"`
	HelpURI              string             `json:"helpUri"`
	DefaultConfiguration sarifConfiguration `json:"defaultConfiguration"`
	Properties           sarifRuleProps     `json:"properties"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifHelp struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown"`
}

type sarifConfiguration struct {
	Level string `json:"level"`
}

type sarifRuleProps struct {
	Tags             []string `json:"tags"`
	Precision        string   `json:"precision"`
	SecuritySeverity string   `json:"security-severity"` // read by GitHub code scanning
	Severity         string   `json:"severity"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations,omitempty"`
	PartialFingerprints map[string]string  `json:"partialFingerprints"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	Properties          map[string]string  `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"` // "inSource" or "external"
	Justification string `json:"justification,omitempty"`
}

// FingerprintKey names agentctl's partial fingerprint in SARIF results.
const FingerprintKey = "agentctlFinding/v2"

// SRCROOT is the SARIF base id of the repository root: result locations are relative to it.
const SRCROOT = "SRCROOT"

// AutomationID is the SARIF run's automationDetails.id. GitHub code scanning takes the part
// before the last slash as the analysis category.
const AutomationID = "agentctl/"

// LoadErrorRule is the SARIF rule of load errors (a directory that failed to load).
const LoadErrorRule = "load-error"

// DocsURL is where the check catalogue is published; rules link to their section.
const DocsURL = "https://github.com/agentctl/agentctl/blob/main/docs/checks.md"

// SARIF writes a SARIF 2.1.0 log: one reportingDescriptor per check that ran, one result per
// finding (suppressed ones carry suppressions), and one result of rule "load-error" per
// load error. With r.Root set, locations are relative to the SRCROOT base id.
func SARIF(w io.Writer, r Findings) error {
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name:           "agentctl",
			Version:        r.Version,
			SemVer:         semanticVersion(r.Version),
			InformationURI: "https://github.com/agentctl/agentctl",
			Rules:          []sarifRule{},
		}},
		AutomationDetails: sarifAutomation{ID: AutomationID},
		Results:           []sarifResult{},
	}
	if r.Root != "" {
		run.OriginalURIBaseIDs = map[string]sarifArtifact{SRCROOT: {URI: dirURI(r.Root)}}
	}
	// physical is the location of a file position, nil without a file.
	physical := func(file string, line, col int) *sarifPhysical {
		if file == "" {
			return nil
		}
		p := &sarifPhysical{ArtifactLocation: sarifArtifact{URI: fileURI(file)}}
		if r.Root != "" && !strings.HasPrefix(p.ArtifactLocation.URI, "file://") {
			p.ArtifactLocation.URIBaseID = SRCROOT
		}
		if line > 0 {
			p.Region = &sarifRegion{StartLine: line, StartColumn: col}
		}
		return p
	}
	index := map[string]int{}
	for i, rule := range r.Rules {
		index[rule.ID] = i
		help := DocsURL + "#" + Anchor(rule)
		if rule.HelpURI != "" {
			help = rule.HelpURI
		}
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID:               rule.ID,
			Name:             rule.Slug,
			ShortDescription: sarifText{rule.Title},
			FullDescription:  sarifText{rule.Rationale},
			Help: sarifHelp{
				Text:     rule.Rationale + "\n\nRemediation: " + rule.Remediation,
				Markdown: ruleHelpMarkdown(rule),
			},
			HelpURI:              help,
			DefaultConfiguration: sarifConfiguration{Level: sarifLevel(rule.Severity)},
			Properties: sarifRuleProps{
				Tags:             sarifTags(rule.Frameworks),
				Precision:        "very-high",
				SecuritySeverity: securitySeverity(rule.Severity),
				Severity:         rule.Severity,
			},
		})
	}
	for _, f := range r.Findings {
		i, ok := index[f.Check]
		if !ok {
			return fmt.Errorf("sarif: finding of %s, a check that did not run", f.Check)
		}
		res := sarifResult{
			RuleID:              f.Check,
			RuleIndex:           i,
			Level:               sarifLevel(f.Severity),
			Message:             sarifText{policy.Escape(f.Message)},
			PartialFingerprints: map[string]string{FingerprintKey: f.Fingerprint},
			Properties:          map[string]string{"severity": f.Severity, "element": f.Element},
		}
		res.Locations = []sarifLocation{{PhysicalLocation: physical(f.File, f.Line, f.Column),
			LogicalLocations: []sarifLogical{{FullyQualifiedName: f.Element, Kind: "element"}}}}
		if s := f.Suppression; s != nil {
			kind, why := "inSource", s.Reason
			if s.Kind == "baseline" {
				kind, why = "external", "accepted in the agentctl baseline"
			}
			res.Suppressions = []sarifSuppression{{Kind: kind, Justification: why}}
		}
		run.Results = append(run.Results, res)
	}
	if len(r.LoadErrors) > 0 {
		i := len(run.Tool.Driver.Rules)
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID:                   LoadErrorRule,
			Name:                 LoadErrorRule,
			ShortDescription:     sarifText{"Policy directory failed to load"},
			FullDescription:      sarifText{"The policy directory could not be loaded (a CUE or schema error, or an undefined reference), so none of its checks ran."},
			Help:                 sarifHelp{Text: "Fix the error at the location given; agentctl vet DIR lists every load error.", Markdown: "Fix the error at the location given; `agentctl vet DIR` lists every load error."},
			HelpURI:              "https://github.com/agentctl/agentctl/blob/main/docs/policy.md#load-errors",
			DefaultConfiguration: sarifConfiguration{Level: "error"},
			Properties:           sarifRuleProps{Tags: []string{"correctness"}, Precision: "very-high", SecuritySeverity: securitySeverity("high"), Severity: "high"},
		})
		for _, e := range r.LoadErrors {
			res := sarifResult{
				RuleID: LoadErrorRule, RuleIndex: i, Level: "error",
				Message:             sarifText{policy.Escape(e.Dir + ": " + e.Message)},
				PartialFingerprints: map[string]string{FingerprintKey: e.Dir + ":" + e.Message},
				Properties:          map[string]string{"directory": e.Dir},
			}
			if p := physical(e.File, e.Line, e.Column); p != nil {
				res.Locations = []sarifLocation{{PhysicalLocation: p}}
			}
			run.Results = append(run.Results, res)
		}
	}
	return JSON(w, sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{run},
	})
}

// sarifLevel maps severities to SARIF levels: critical and high are errors.
func sarifLevel(severity string) string {
	switch severity {
	case "critical", "high":
		return "error"
	case "medium":
		return "warning"
	}
	return "note"
}

// securitySeverity is GitHub's numeric severity: >= 9 critical, >= 7 high, >= 4 medium.
func securitySeverity(severity string) string {
	switch severity {
	case "critical":
		return "9.5"
	case "high":
		return "8.0"
	case "medium":
		return "5.5"
	case "low":
		return "3.0"
	}
	return "1.0"
}

// sarifTags lists "security" and the framework references, prefixed where the bare
// reference would be ambiguous ("MAESTRO-L7", "NIST-AI-RMF:MEASURE-2.7").
func sarifTags(f Frameworks) []string {
	tags := []string{"security"}
	tags = append(tags, f.ASI...)
	tags = append(tags, f.NHI...)
	for _, l := range f.MAESTRO {
		tags = append(tags, "MAESTRO-"+l)
	}
	for _, n := range f.NIST {
		tags = append(tags, "NIST-AI-RMF:"+strings.ReplaceAll(n, " ", "-"))
	}
	return tags
}

// fileURI turns a file name into a SARIF artifact URI: relative paths stay relative (to the
// directory agentctl ran in), absolute ones become file URIs.
func fileURI(name string) string {
	name = filepath.ToSlash(name)
	if strings.HasPrefix(name, "/") {
		return "file://" + name
	}
	return strings.TrimPrefix(name, "./")
}

// dirURI is the file URI of a directory, with the trailing slash SARIF base ids need.
func dirURI(dir string) string {
	u := fileURI(dir)
	if !strings.HasPrefix(u, "file://") {
		u = "file:///" + u
	}
	return strings.TrimSuffix(u, "/") + "/"
}

// semanticVersion returns version without its "v" when it is a semantic version ("" for a
// development build).
func semanticVersion(version string) string {
	if !semver.IsValid(version) {
		return ""
	}
	return strings.TrimPrefix(version, "v")
}

func ruleHelpMarkdown(r Rule) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** (%s)\n\n%s\n\n**Remediation.** %s\n", r.Title, r.Slug, r.Rationale, r.Remediation)
	if r.Example != "" {
		fmt.Fprintf(&b, "\nTriggers it:\n\n```cue\n%s\n```\n", r.Example)
	}
	if r.Fix != "" {
		fmt.Fprintf(&b, "\nFixed:\n\n```cue\n%s\n```\n", r.Fix)
	}
	return b.String()
}
