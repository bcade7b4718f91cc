package compile_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/agentctl/agentctl/policy"
)

// Pools the random policies and requests draw from. They hold the awkward strings too:
// regexp metacharacters, quotes, newlines, Rego keywords and non-ASCII, so the differential
// test also covers injection.
var (
	toolNames  = []string{"crm", "payments", "deploy", "kb"}
	actionPool = []string{"read", "write", "refund", "export", "run"}
	effects    = []string{"read", "write", "delete", "export", "privilege_escalation", "payment", "deploy", "execute"}
	dataPool   = []string{"public", "internal", "confidential", "regulated"}
	modes      = []string{policy.ModeAttenuate, policy.ModeDelegate, policy.ModeForwardCredentials}
	roles      = []string{"finance-lead", "sre", `role"q"`, "import", "Finance-Lead"}
	// Approver names with one canonical form (case variants of one person, and agents'
	// names and SPIFFE IDs spelt differently) and names without one (spaces, non-ASCII,
	// a U+2011 hyphen, fullwidth letters), which make a request malformed.
	people    = []string{"dana", "Dana", "DANA", "erin", "frank", `o"brien`, "AGENT1", "SPIFFE://ACME.EXAMPLE/agent1/0\"}"}
	badNames  = []string{"zoë", "dana ", "fraud\u2011review", "ｄａｎａ", "", `role "q"`}
	patterns  = []string{"accounts/*", "accounts/4*2", "*", "a*b*c", "x.y", "(re)+", "acc\nounts/*", `q"\}*`, "Ünïcode/*", "default", ""}
	resources = []string{"accounts/42", "accounts/", "accounts/4x2", "abc", "x.y", "xzy", "(re)+", "rere", "acc\nounts/1", `q"\}z`, "Ünïcode/é", "default", ""}
	// Condition attributes and the values they are tested against; the values mix strings,
	// numbers equal in value but not in text, and types no operator tests.
	attributeNames = []string{"amount", "recipient", `odd "key"`, "tenant"}
	listValues     = []any{"acme", "evil", 42.0, 0.0, `q"x`, "Ünï", ""}
	requestValues  = []any{"acme", "evil", 42.0, json.Number("42.0"), json.Number("1e-400"), `q"x`, "Ünï", "", "accounts/42", true, []any{"acme"}, map[string]any{"acme": true}, 500.0}
	// The lists a random policy declares: static, runtime, and runtime keyed by a request field.
	listDecls = []*policy.List{
		{Name: "payees", Values: []any{"acme", 42.0, `q"x`}},
		{Name: "empty", Values: []any{}},
		{Name: "blocked", Runtime: true},
		{Name: "named", Runtime: true, Key: "task"},
		{Name: "tenants", Runtime: true, Key: "attributes.tenant"},
	}
)

// Extreme policy numbers: session durations from a nanosecond to the largest the schema
// takes (~292 years, where int64 nanoseconds end), and thresholds at the schema's bounds,
// below float64 precision, subnormal and rounded.
var (
	durations         = []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour, time.Hour, 2 * time.Hour, 3 * time.Hour, 1, 90 * time.Minute, math.MaxInt64, 200 * 365 * 24 * time.Hour}
	extremeThresholds = []float64{1e300, -1e300, 0.1, 9007199254740993, -0.5, 5e-324, 0, 1e21, 123456.789}
)

// OPA's time.parse_rfc3339_ns takes timestamps from minTimestamp to maxTimestamp (int64
// nanoseconds since the epoch); RFC 3339 writes years 0001 to 9999.
var (
	minTimestamp = time.Unix(0, math.MinInt64).UTC()
	maxTimestamp = time.Unix(0, math.MaxInt64).UTC()
	firstYear    = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	lastYear     = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// randomTime returns a time near base (hours apart, or a nanosecond either side of base),
// anywhere from year 1 to 9999, or within nanoseconds of the range OPA takes.
func randomTime(r *rand.Rand, base time.Time) time.Time {
	switch r.IntN(16) {
	case 0:
		span := lastYear.Unix() - firstYear.Unix()
		return time.Unix(firstYear.Unix()+r.Int64N(span), r.Int64N(1e9)).UTC()
	case 1:
		return pick(r, []time.Time{minTimestamp, maxTimestamp}).Add(time.Duration(r.IntN(5) - 2))
	case 2:
		return base.Add(time.Duration(r.IntN(3) - 1))
	case 3:
		return base.Add(time.Duration(r.Int64N(1e9) - 5e8))
	}
	return base.Add(time.Duration(r.IntN(6)-1) * time.Hour)
}

// formatTime writes t in RFC 3339 with a random offset (Z, -00:00, or up to ±23:59) and
// 0 to 9 fractional digits (fewer digits than t needs truncate it: the string is the input).
func formatTime(r *rand.Rand, t time.Time) string {
	layout := "2006-01-02T15:04:05" + pick(r, []string{"", ".0", ".000", ".000000", ".000000000", ".999999999", ".00000"}) + "Z07:00"
	switch r.IntN(3) {
	case 0:
		t = t.UTC()
	case 1:
		off := (r.IntN(24*60*2-1) - (24*60 - 1)) * 60
		t = t.In(time.FixedZone("", off))
	default:
		s := t.UTC().Format(layout)
		if r.IntN(2) == 0 && strings.HasSuffix(s, "Z") {
			return strings.TrimSuffix(s, "Z") + "-00:00"
		}
		return s
	}
	return t.Format(layout)
}

// justAbove returns the decimal text of f plus 10^-201: above f, though every float64
// reads it as f.
func justAbove(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += "."
	}
	return s + strings.Repeat("0", 200) + "1"
}

// sessionActions are counts of actions: at and around the limits, beyond float64
// precision, and at the ends of what OPA reads.
var sessionActions = []any{0.0, 9.0, 10.0, 25.0, json.Number("9.99999999999999999999"), json.Number("1e400"),
	0.0, 9.0, 10.0, 25.0, json.Number("9." + strings.Repeat("9", 200)), json.Number("19.99999999999999999999999"),
	json.Number("2147483646." + strings.Repeat("9", 40)), json.Number("2147483647"), json.Number("1e30000"),
	json.Number("1e-30000"), json.Number("-0"), json.Number("0e-5"), json.Number("1e40000")}

// randomConditions returns zero to two random conditions, of every operator and operand.
func randomConditions(r *rand.Rand) []*policy.Condition {
	var out []*policy.Condition
	for range r.IntN(3) {
		c := &policy.Condition{Attribute: pick(r, attributeNames), Op: pick(r, policy.Operators)}
		switch c.Op {
		case policy.OpIn, policy.OpNotIn:
			if r.IntN(2) == 0 {
				c.List = pick(r, listDecls).Name
			} else {
				c.Values = []any{}
				for range r.IntN(3) {
					c.Values = append(c.Values, pick(r, listValues))
				}
			}
		case policy.OpMatches, policy.OpNotMatches:
			c.Pattern = pick(r, append(patterns, "ac*", "*v*"))
		default:
			c.Number = pick(r, append([]float64{0, 42, 100, 499.5, 1000}, extremeThresholds...))
		}
		out = append(out, c)
	}
	return out
}

// randomClass returns an action's untrusted or egress class: the default, a boolean or
// conditions.
func randomClass(r *rand.Rand) *policy.FlowClass {
	switch r.IntN(4) {
	case 0:
		return &policy.FlowClass{Value: r.IntN(2) == 0}
	case 1:
		return &policy.FlowClass{Value: true, When: randomConditions(r)}
	}
	return nil
}

const randomAgentCount = 5

func agentName(i int) string { return fmt.Sprintf("agent%d", i) }

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func subset(r *rand.Rand, xs []string) []string {
	var out []string
	for _, x := range xs {
		if r.IntN(2) == 0 {
			out = append(out, x)
		}
	}
	return out
}

// randomPolicy builds a small random policy: parallel and self hand-offs, wildcards,
// resource lists, thresholds and agent filters included.
func randomPolicy(r *rand.Rand) *policy.Policy {
	p := &policy.Policy{Settings: policy.Settings{RiskTier: "high", MaxCredentialTTL: time.Hour, MaxChainDepth: 1 + r.IntN(3)}}
	for _, tn := range toolNames[:1+r.IntN(len(toolNames))] {
		t := &policy.Tool{Name: tn, Source: "internal", Auth: policy.Auth{Kind: "workload_identity"}, External: r.IntN(2) == 0}
		for _, an := range actionPool[:1+r.IntN(len(actionPool))] {
			act := &policy.Action{Tool: tn, Name: an, Effect: pick(r, effects), Data: pick(r, dataPool)}
			if r.IntN(8) == 0 {
				act.FlowExempt = "replies to the sender only"
			}
			act.Untrusted, act.Egress = randomClass(r), randomClass(r)
			t.Actions = append(t.Actions, act)
		}
		p.Tools = append(p.Tools, t)
	}
	for i := range randomAgentCount {
		a := &policy.Agent{Name: agentName(i), Autonomy: "supervised", Description: "Desc \"}\n default import",
			UntrustedInput: r.IntN(4) == 0}
		if r.IntN(8) == 0 {
			a.FlowExempt = "posts to the customer's own account only"
		}
		if r.IntN(4) > 0 {
			a.SpiffeID = fmt.Sprintf("spiffe://acme.example/%s/%d\"}", a.Name, r.IntN(2))
		}
		for range r.IntN(4) {
			g := &policy.Grant{Tool: policy.Wildcard, Actions: []string{policy.Wildcard}}
			if r.IntN(2) == 0 {
				g.Actions = []string{pick(r, actionPool)} // a named action of every tool
			}
			if r.IntN(4) > 0 {
				t := pick(r, p.Tools)
				g.Tool = t.Name
				g.Actions = []string{pick(r, t.Actions).Name}
				if r.IntN(3) == 0 {
					g.Actions = append(g.Actions, pick(r, actionPool))
				}
			}
			if r.IntN(2) == 0 {
				g.Resources = []string{}
				for range 1 + r.IntN(2) {
					g.Resources = append(g.Resources, pick(r, patterns))
				}
			}
			if r.IntN(3) == 0 {
				g.When = randomConditions(r)
			}
			a.Grants = append(a.Grants, g)
		}
		if r.IntN(3) == 0 {
			a.Credential = &policy.Credential{Kind: "ephemeral", Scope: "task", TTL: 15 * time.Minute, HasTTL: true}
		}
		if r.IntN(3) == 0 {
			a.Session = &policy.Session{MaxActions: pick(r, []int{0, 10, 20, 0, 10, 20, 1, math.MaxInt32})}
			if r.IntN(2) == 0 {
				a.Session.MaxDuration, a.Session.HasMaxDuration = pick(r, durations), true
			}
		}
		p.Agents = append(p.Agents, a)
	}
	for i := range r.IntN(9) {
		from, to := r.IntN(randomAgentCount), r.IntN(randomAgentCount)
		p.Handoffs = append(p.Handoffs, &policy.Handoff{From: agentName(from), To: agentName(to), Mode: pick(r, modes), Index: i})
	}
	switch r.IntN(3) {
	case 0: // the defaults
	case 1:
		p.Settings.Flow = policy.FlowSettings{OnEgress: policy.FlowDeny}
	default:
		p.Settings.Flow = policy.FlowSettings{OnEgress: policy.FlowNeedsApproval, Role: pick(r, roles), Approvers: 1 + r.IntN(2)}
	}
	p.Lists = listDecls
	if r.IntN(3) > 0 {
		in := &policy.Integrity{On: pick(r, []string{"", policy.IntegrityDeny, policy.IntegrityNeedsApproval, policy.IntegrityOff}), Unless: randomConditions(r)}
		if r.IntN(2) == 0 {
			in.Effects = subset(r, effects)
		}
		if r.IntN(2) == 0 {
			in.Role, in.Approvers = pick(r, roles), 1+r.IntN(2)
		}
		p.Settings.Flow.Integrity = in
	}
	for i := range r.IntN(4) {
		ap := &policy.Approval{Name: fmt.Sprintf("rule-%d", i), Require: policy.Require{Approvers: 1 + r.IntN(2), Role: pick(r, append(roles, "zoë-team"))}}
		if r.IntN(2) == 0 {
			ap.Match.Effects = subset(r, effects)
		}
		if r.IntN(3) == 0 {
			ap.Match.Tools = subset(r, toolNames)
		}
		if r.IntN(3) == 0 {
			ap.Match.Agents = []string{agentName(r.IntN(randomAgentCount)), "ghost"}
		}
		if r.IntN(2) == 0 {
			above := float64(r.IntN(1000))
			if r.IntN(4) == 0 {
				above = pick(r, extremeThresholds)
			}
			ap.Threshold = &policy.Threshold{Attribute: pick(r, []string{"amount", `odd "key"`}), Above: above}
		}
		if r.IntN(2) == 0 {
			ap.Match.When = randomConditions(r)
		}
		p.Approvals = append(p.Approvals, ap)
	}
	p.Index()
	return p
}

// randomRequest builds a request for p, well-formed most of the time, and the
// revocations to decide it with.
func randomRequest(r *rand.Rand, p *policy.Policy) (map[string]any, any) {
	in := map[string]any{}
	// Half the requests are well-formed; the other half may break any field.
	chaos := r.IntN(2) == 0
	bad := func(n int) bool { return chaos && r.IntN(n) == 0 }
	// A walk along declared hand-offs, or any sequence of names.
	chain := []any{agentName(r.IntN(randomAgentCount))}
	hops := r.IntN(p.MaxChainDepth() + 1)
	if bad(4) {
		hops += 2
	}
	for range hops {
		last := chain[len(chain)-1].(string)
		var next []string
		for _, h := range p.Handoffs {
			if h.From == last {
				next = append(next, h.To)
			}
		}
		if bad(3) {
			next = []string{agentName(r.IntN(randomAgentCount)), "ghost"}
		}
		if len(next) == 0 {
			break
		}
		chain = append(chain, pick(r, next))
	}
	agent := chain[len(chain)-1]
	switch {
	case bad(10):
		// absent
	case bad(10):
		in["agent"] = 7
	default:
		in["agent"] = agent
	}
	switch {
	case r.IntN(6) == 0:
	case bad(4):
		in["chain"] = pick(r, []any{"agent0", []any{}, []any{"agent0", 3}, []any{"agent1", "agent0"}, nil})
	default:
		in["chain"] = chain
	}
	t := pick(r, p.Tools)
	in["tool"], in["action"] = t.Name, pick(r, t.Actions).Name
	if bad(6) {
		in["action"] = pick(r, []any{"nope", 1, nil})
	}
	if bad(12) {
		delete(in, "tool")
	}
	if a := p.Agent(fmt.Sprint(agent)); a != nil && r.IntN(5) > 0 {
		in["identity"] = a.SpiffeID
	} else if bad(3) {
		in["identity"] = pick(r, []any{"spiffe://acme.example/other", 5, ""})
	}
	if r.IntN(4) > 0 {
		in["resource"] = pick(r, resources)
	} else if bad(4) {
		in["resource"] = 42
	}
	switch {
	case r.IntN(5) == 0:
	case bad(3):
		in["attributes"] = pick(r, []any{"amount", map[string]any{"amount": "lots"}, map[string]any{`odd "key"`: 10.5}})
	default:
		in["attributes"] = map[string]any{"amount": float64(r.IntN(1200)), `odd "key"`: float64(r.IntN(1200))}
		if r.IntN(4) == 0 {
			// Just above an integer threshold, beyond float64 precision, and out of range.
			in["attributes"] = map[string]any{"amount": json.Number(fmt.Sprintf("%d.000000000000000000001", r.IntN(1000))), `odd "key"`: json.Number("1e-400")}
		}
		if r.IntN(4) == 0 && len(p.Approvals) > 0 {
			// At a threshold of the policy, a hair above it, or far beyond any float64.
			ap := pick(r, p.Approvals)
			if ap.Threshold != nil {
				v := pick(r, []any{json.Number(justAbove(ap.Threshold.Above)), ap.Threshold.Above,
					json.Number("1e30000"), json.Number("-1e30000"), json.Number("1e-30000"), json.Number("-0")})
				in["attributes"] = map[string]any{ap.Threshold.Attribute: v}
			}
		}
		attrs := in["attributes"].(map[string]any)
		for _, name := range attributeNames[1:] {
			if r.IntN(3) > 0 {
				attrs[name] = pick(r, requestValues)
			}
		}
	}
	if r.IntN(3) > 0 {
		list := []any{}
		for range r.IntN(4) {
			e := map[string]any{"approver": pick(r, append(people, agentName(0), "spiffe://acme.example/agent1/0\"}")), "role": pick(r, append(roles, p.Flow().Role)), "human": r.IntN(4) > 0}
			switch {
			case bad(6):
				e[pick(r, []string{"approver", "role"})] = pick(r, badNames)
			case r.IntN(12) == 0:
				delete(e, "human")
			case bad(8):
				e["human"] = "yes"
			case bad(8):
				e["approver"] = ""
			}
			list = append(list, e)
		}
		in["approvals"] = list
		if bad(10) {
			in["approvals"] = map[string]any{"approver": "dana"}
		}
	}
	now := diffNow // the clock agree decides with, so expiries fall on both sides of it
	if r.IntN(8) == 0 {
		now = randomTime(r, now) // requests carry their own clock, as far as RFC 3339 goes
	}
	stamp := func(base time.Time) any {
		switch {
		case bad(8):
			return "yesterday"
		case bad(8):
			return 1700000000
		}
		return formatTime(r, randomTime(r, base))
	}
	if r.IntN(3) > 0 {
		in["credential"] = map[string]any{"expires_at": stamp(now)}
		if bad(8) {
			in["credential"] = pick(r, []any{map[string]any{}, "token"})
		}
	}
	if r.IntN(3) > 0 {
		// The session started a limit's length before now (the boundary), or anywhere.
		started := now.Add(-time.Duration(r.IntN(4)) * time.Hour)
		if a := p.Agent(fmt.Sprint(agent)); a != nil && a.Session != nil && a.Session.HasMaxDuration && r.IntN(3) == 0 {
			started = now.Add(-a.Session.MaxDuration)
		}
		s := map[string]any{"actions": pick(r, sessionActions), "started_at": stamp(started)}
		if bad(6) {
			s["actions"] = pick(r, []any{-1.0, "many"})
		}
		if r.IntN(4) == 0 {
			delete(s, "actions")
		}
		if r.IntN(4) == 0 {
			delete(s, "started_at")
		}
		if r.IntN(3) > 0 {
			s["flow"] = map[string]any{"untrusted": r.IntN(2) == 0, "sensitive": r.IntN(3) > 0}
			switch {
			case bad(6):
				s["flow"] = pick(r, []any{true, []any{}, map[string]any{"untrusted": "yes"}, map[string]any{"sensitive": 1},
					map[string]any{"sources": []any{"kb.read"}}, map[string]any{"sources": map[string]any{"untrusted": "kb.read"}},
					map[string]any{"sources": map[string]any{"sensitive": []any{"kb.read", 1}}}})
			case r.IntN(4) == 0:
				delete(s["flow"].(map[string]any), "untrusted")
			}
			if f, ok := s["flow"].(map[string]any); ok && r.IntN(2) == 0 {
				f["sources"] = randomSources(r, p)
			}
		}
		in["session"] = s
	}
	if r.IntN(4) > 0 {
		in["now"] = pick(r, []any{now.Format(time.RFC3339), "2030-01-01T13:30:00+01:00", formatTime(r, now)})
		if bad(4) {
			in["now"] = pick(r, []any{"soon", "9999-12-31T23:59:59Z"})
		}
	}
	if r.IntN(3) == 0 {
		in["task"] = pick(r, []any{"t1", "t2"})
		if bad(3) {
			in["task"] = 3
		}
	}
	var rev any
	switch {
	case r.IntN(3) == 0:
	case bad(4):
		rev = map[string]any{"agents": []any{"agent0"}, "tasks": "t1"}
	default:
		agents := map[string]any{}
		for _, n := range []string{"agent0", "agent1", "ghost"} {
			if r.IntN(6) == 0 {
				agents[n] = pick(r, []any{true, false, nil, map[string]any{"reason": "hijacked"}})
			}
		}
		rev = map[string]any{"agents": agents, "tasks": map[string]any{"t1": map[string]any{"at": "2030-01-01T00:00:00Z"}}}
	}
	return in, rev
}

// randomSources returns session.flow.sources as an enforcement point echoes them: some
// capabilities of p (and one it does not declare) per label, unsorted, with duplicates, up to
// more than policy.MaxSources.
func randomSources(r *rand.Rand, p *policy.Policy) map[string]any {
	out := map[string]any{}
	for _, label := range []string{"untrusted", "sensitive"} {
		if r.IntN(4) == 0 {
			continue
		}
		list := []any{}
		for range r.IntN(11) {
			if n := p.Caps().Len(); r.IntN(n+1) < n {
				list = append(list, p.Caps().Name(r.IntN(n)))
			} else {
				list = append(list, "gone.tool")
			}
		}
		out[label] = list
	}
	return out
}

// randomLists returns data.agentctl_lists as operators might have pushed it: absent, the
// lists of listDecls (keyed ones by task and tenant), or wrong shapes, which count as empty.
func randomLists(r *rand.Rand) any {
	switch r.IntN(5) {
	case 0:
		return nil
	case 1:
		return pick(r, []any{[]any{"acme"}, map[string]any{"blocked": "evil", "named": []any{"acme"}, "tenants": map[string]any{"acme": "acme"}}})
	}
	values := func() []any {
		out := []any{}
		for range r.IntN(3) {
			out = append(out, pick(r, listValues))
		}
		return out
	}
	return map[string]any{
		"blocked": values(),
		"named":   map[string]any{"t1": values(), "t2": values()},
		"tenants": map[string]any{"acme": values(), "evil": values()},
	}
}
