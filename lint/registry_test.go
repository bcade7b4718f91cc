package lint_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/agentctl/agentctl/lint"
)

// contract is the check catalogue and framework map of DESIGN.md: ID, slug, ASI, NHI,
// MAESTRO, NIST AI RMF.
const contract = `
AC001 missing-workload-identity ASI03 NHI4 L7 GOVERN 1.6
AC002 shared-identity ASI03 NHI9 L7 MEASURE 2.8
AC003 long-lived-credential ASI03 NHI7 L4 MEASURE 2.7
AC004 credential-outlives-task ASI03 NHI1 L4 MANAGE 2.4
AC005 shared-tool-token ASI03 NHI9 L4 MEASURE 2.8
AC010 wildcard-grant ASI03 NHI5 L6 MEASURE 2.7
AC011 write-without-jit ASI02 NHI5 L6 MEASURE 2.7
AC020 high-risk-without-approval ASI02,ASI09 - L6 MAP 3.5,GOVERN 3.2
AC021 approval-without-timeout ASI09 - L6 MAP 3.5
AC022 agent-as-approver ASI09 NHI10 L7 GOVERN 3.2
AC030 credential-forwarding ASI03,ASI07 NHI2,NHI9 L7 MEASURE 2.7
AC031 privilege-multiplying-handoff ASI03 NHI5 L7 MEASURE 2.7
AC032 handoff-cycle ASI08 - L7 MANAGE 2.4
AC033 chain-exceeds-depth ASI08 - L7 MANAGE 2.4
AC034 lethal-trifecta ASI01,ASI02 - L2 MEASURE 2.7
AC040 third-party-tool-write ASI04 NHI3 L3 GOVERN 6.1,MANAGE 3.1
AC050 audit-disabled ASI10 - L5 MEASURE 2.4,MANAGE 4.1
AC051 missing-owner ASI03 NHI1 L6 GOVERN 2.1
AC052 no-session-limits ASI10 - L5 MANAGE 2.4
AC053 suppression-without-reason - - L6 MEASURE 2.8
`

func refs(list []string, suffix string) string {
	if len(list) == 0 {
		return "-"
	}
	out := make([]string, len(list))
	for i, r := range list {
		out[i] = strings.TrimSuffix(r, suffix)
	}
	return strings.Join(out, ",")
}

func TestRegistryMatchesContract(t *testing.T) {
	got := map[string]string{}
	for _, c := range lint.Checks() {
		f := c.Frameworks
		got[c.ID] = fmt.Sprintf("%s %s %s %s %s %s", c.ID, c.Slug, refs(f.ASI, ""), refs(f.NHI, ":2025"), refs(f.MAESTRO, ""), refs(f.NIST, ""))
		if c.Title == "" || c.Family == "" || c.Severity == 0 || c.Rationale == "" || c.Remediation == "" || c.Example == "" || c.Fix == "" || c.Run == nil {
			t.Errorf("%s: incomplete documentation or no Run", c.ID)
		}
		for _, n := range f.NHI {
			if !strings.HasSuffix(n, ":2025") {
				t.Errorf("%s: NHI reference %q lacks :2025", c.ID, n)
			}
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(contract), "\n") {
		id := line[:5]
		if got[id] != line {
			t.Errorf("%s:\n got  %s\n want %s", id, got[id], line)
		}
	}
	ids := map[string]bool{}
	prev := ""
	for _, c := range lint.Checks() {
		if ids[c.ID] || ids[c.Slug] || c.ID <= prev {
			t.Errorf("%s %s: duplicate or out of order", c.ID, c.Slug)
		}
		ids[c.ID], ids[c.Slug], prev = true, true, c.ID
	}
}

func TestSelect(t *testing.T) {
	ids := func(cs []*lint.Check) string {
		var s []string
		for _, c := range cs {
			s = append(s, c.ID)
		}
		return strings.Join(s, ",")
	}
	cs, err := lint.Select([]string{"wildcard-grant", "ac001", "AC053"}, []string{"AC053"})
	if err != nil || ids(cs) != "AC001,AC010" {
		t.Errorf("Select = %s, %v", ids(cs), err)
	}
	if cs, err := lint.Select(nil, []string{"AC054"}); err != nil || len(cs) != len(lint.Checks())-1 || slices.Contains(cs, lint.UnknownSuppression) {
		t.Errorf("skip AC054: %s, %v", ids(cs), err)
	}
	if _, err := lint.Select([]string{"AC999"}, nil); err == nil || err.Error() != `unknown check "AC999" (see 'agentctl checks')` {
		t.Errorf("unknown check: %v", err)
	}
}

func TestSeverity(t *testing.T) {
	for _, s := range []string{"info", "low", "medium", "high", "critical"} {
		sev, err := lint.ParseSeverity(s)
		if err != nil || sev.String() != s {
			t.Errorf("ParseSeverity(%q) = %v, %v", s, sev, err)
		}
	}
	if sev, err := lint.ParseSeverity("HIGH"); err != nil || sev != lint.High {
		t.Errorf("ParseSeverity(HIGH) = %v, %v", sev, err)
	}
	if _, err := lint.ParseSeverity("severe"); err == nil {
		t.Error("ParseSeverity accepted severe")
	}
	if lint.WriteWithoutJIT.SeverityFor("low") != lint.Low || lint.WriteWithoutJIT.SeverityFor("high") != lint.Medium ||
		lint.SharedIdentity.SeverityFor("low") != lint.High {
		t.Error("SeverityFor does not scale with the risk tier as documented")
	}
}
