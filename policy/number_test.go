package policy

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func TestDecimalCmp(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"0", "-0.0e5", 0},
		{"1", "1.000", 0},
		{"10", "1e1", 0},
		{"0.001", "1E-3", 0},
		{"500.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001", "500", 1},
		{"9.99999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999", "10", -1},
		{"1e400", "1e399", 1},
		{"-1e400", "-1e399", -1},
		{"1e-400", "0", 1},
		{"-1e-400", "0", -1},
		{"123", "1234e-1", -1},
		{"13", "123e-1", 1},
		{"1e999999999999999999999", "1e999999999999999999998", 0}, // both beyond maxExponent
		{"0.5", "1", -1},
		{"-2", "1", -1},
		{"00012", "12", 0},
	}
	for _, tt := range tests {
		a, ok1 := parseDecimal(tt.a)
		b, ok2 := parseDecimal(tt.b)
		if !ok1 || !ok2 {
			t.Fatalf("parse %q %q: %v %v", tt.a, tt.b, ok1, ok2)
		}
		if got := a.Cmp(b); got != tt.want {
			t.Errorf("cmp(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := b.Cmp(a); got != -tt.want {
			t.Errorf("cmp(%s, %s) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
	for _, bad := range []string{"", "-", ".5", "5.", "1e", "1e+", "x", "1.2.3", "--1", "1e5x"} {
		if _, ok := parseDecimal(bad); ok {
			t.Errorf("parseDecimal(%q) accepted", bad)
		}
	}
	// A float reads as its shortest decimal, which is what data.json holds.
	if n, _ := number(0.1); n.Cmp(bigOf(0.1)) != 0 || n.digits != "1" || n.exp != 0 {
		t.Errorf("number(0.1) = %+v", n)
	}
}

func TestElapsedSaturates(t *testing.T) {
	if got := elapsed(math.MaxInt64, math.MinInt64); got != math.MaxInt64 {
		t.Errorf("elapsed(max, min) = %d", got)
	}
	if got := elapsed(math.MinInt64, math.MaxInt64); got != math.MinInt64 {
		t.Errorf("elapsed(min, max) = %d", got)
	}
	if got := elapsed(10, 3); got != 7 {
		t.Errorf("elapsed(10, 3) = %d", got)
	}
}

// TestDecideExtremes holds the decisions OPA makes (exact integers and decimals) where int64
// nanoseconds wrap or a float rounds: each of these once decided the other way.
func TestDecideExtremes(t *testing.T) {
	p := &Policy{
		Tools: []*Tool{{Name: "kb", Actions: []*Action{{Tool: "kb", Name: "read", Effect: EffectPayment, Data: DataPublic}}}},
		Agents: []*Agent{{Name: "bot", Grants: []*Grant{{Tool: "kb", Actions: []string{"read"}}},
			Session: &Session{MaxActions: 10, MaxDuration: time.Hour, HasMaxDuration: true}}},
		Approvals: []*Approval{{Name: "big", Threshold: &Threshold{Attribute: "amount", Above: 500}, Require: Require{Approvers: 1, Role: "sre"}}},
	}
	p.Index()
	long := "500." + strings.Repeat("0", 200) + "1"
	tests := []struct{ name, now, started, actions, amount, want string }{
		{"session started 349 years ago", "2026-11-27T09:30:00Z", "1677-12-31T23:59:59Z", "0", "1", "SESSION_LIMIT"},
		{"now 349 years before the start", "1677-12-31T23:59:59Z", "2026-11-27T09:30:00Z", "0", "1", OutcomeAllow},
		{"now at the smallest timestamp", "1677-09-21T00:12:43.145224192Z", "2262-04-11T23:47:16.854775807Z", "0", "1", OutcomeAllow},
		{"now at the largest timestamp", "2262-04-11T23:47:16.854775807Z", "1677-09-21T00:12:43.145224192Z", "0", "1", "SESSION_LIMIT"},
		{"one nanosecond short of the duration", "2026-01-01T00:59:59.999999999Z", "2026-01-01T00:00:00Z", "0", "1", OutcomeAllow},
		{"exactly the duration", "2026-01-01T01:00:00+01:00", "2025-12-31T23:00:00Z", "0", "1", "SESSION_LIMIT"},
		{"amount above the threshold by 10^-201", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "0", long, CodeApprovalRequired},
		{"actions just below the limit", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "9." + strings.Repeat("9", 200), "1", OutcomeAllow},
	}
	for _, tt := range tests {
		raw := `{"agent":"bot","tool":"kb","action":"read","now":"` + tt.now + `","session":{"actions":` + tt.actions +
			`,"started_at":"` + tt.started + `"},"attributes":{"amount":` + tt.amount + `}}`
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber()
		var in any
		if err := dec.Decode(&in); err != nil {
			t.Fatal(err)
		}
		d := p.Decide(in, Env{})
		got := d.Outcome
		if len(d.Reasons) > 0 && d.Outcome == OutcomeDeny {
			got = d.Reasons[0].Code
		}
		if d.Outcome == OutcomeNeedsApproval {
			got = CodeApprovalRequired
		}
		if got != tt.want {
			t.Errorf("%s: got %s %v, want %s", tt.name, d.Outcome, d.Reasons, tt.want)
		}
	}
}
