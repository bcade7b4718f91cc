package simulate

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/agentctl/agentctl/policy"
)

var (
	effects = []string{policy.EffectRead, policy.EffectRead, policy.EffectWrite, policy.EffectPayment, policy.EffectExport, policy.EffectDeploy}
	classes = []string{policy.DataPublic, policy.DataInternal, policy.DataConfidential, policy.DataRegulated}
	modes   = []string{policy.ModeAttenuate, policy.ModeDelegate, policy.ModeForwardCredentials}
)

// randomPolicy builds a small policy with one scenario: up to 8 agents, 6 tools, depth 4,
// every mode, compromised agents, untrusted inputs, explicit authorities and what-ifs.
func randomPolicy(seed uint64) *policy.Policy {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	p := &policy.Policy{Settings: policy.Settings{MaxChainDepth: 1 + rng.IntN(4)}}
	nTools := 1 + rng.IntN(6)
	for t := range nTools {
		tool := &policy.Tool{Name: fmt.Sprintf("t%d", t), External: rng.IntN(3) == 0}
		for a := range 1 + rng.IntN(3) {
			tool.Actions = append(tool.Actions, &policy.Action{
				Tool: tool.Name, Name: fmt.Sprintf("a%d", a),
				Effect: effects[rng.IntN(len(effects))], Data: classes[rng.IntN(len(classes))],
			})
		}
		p.Tools = append(p.Tools, tool)
	}
	randomGrants := func() []*policy.Grant {
		var gs []*policy.Grant
		for range rng.IntN(4) {
			g := &policy.Grant{Tool: policy.Wildcard, Actions: []string{policy.Wildcard}}
			if rng.IntN(6) > 0 {
				t := p.Tools[rng.IntN(len(p.Tools))]
				g.Tool = t.Name
				g.Actions = []string{t.Actions[rng.IntN(len(t.Actions))].Name}
				if rng.IntN(5) == 0 {
					g.Actions = []string{policy.Wildcard}
				}
			} else {
				g.Actions = []string{fmt.Sprintf("a%d", rng.IntN(3))}
			}
			gs = append(gs, g)
		}
		return gs
	}
	nAgents := 1 + rng.IntN(8)
	for a := range nAgents {
		p.Agents = append(p.Agents, &policy.Agent{Name: fmt.Sprintf("g%d", a), UntrustedInput: rng.IntN(5) == 0, Grants: randomGrants()})
	}
	for i := range rng.IntN(3 * nAgents) {
		p.Handoffs = append(p.Handoffs, &policy.Handoff{
			From: p.Agents[rng.IntN(nAgents)].Name, To: p.Agents[rng.IntN(nAgents)].Name,
			Mode: modes[rng.IntN(3)], Index: i,
		})
	}
	sc := &policy.Scenario{Name: "s", Start: p.Agents[rng.IntN(nAgents)].Name}
	if rng.IntN(3) == 0 {
		b := rng.IntN(2) == 0
		sc.UntrustedInput = &b
	}
	if rng.IntN(3) == 0 {
		sc.Authority = randomGrants()
	}
	if rng.IntN(2) == 0 {
		w := &policy.WhatIf{}
		for _, a := range p.Agents {
			if rng.IntN(5) == 0 {
				w.Compromised = append(w.Compromised, a.Name)
			}
		}
		for _, h := range p.Handoffs {
			if rng.IntN(6) == 0 {
				w.RemoveHandoffs = append(w.RemoveHandoffs, policy.Edge{From: h.From, To: h.To})
			}
		}
		if rng.IntN(3) == 0 {
			w.HandoffMode = modes[rng.IntN(3)]
		}
		for _, t := range p.Tools {
			for _, a := range t.Actions {
				if rng.IntN(8) == 0 {
					w.Revoke = append(w.Revoke, a.Capability())
				}
			}
		}
		sc.WhatIf = w
	}
	p.Scenarios = []*policy.Scenario{sc}
	p.Approvals = []*policy.Approval{
		{Name: "pay", Match: policy.Match{Effects: []string{policy.EffectPayment}}},
		{Name: "g0-writes", Match: policy.Match{Effects: []string{policy.EffectWrite}, Agents: []string{"g0"}}},
	}
	p.Index()
	return p
}

// oracle is the brute-force answer: every walk enumerated and replayed through
// policy.ChainAuthority, straight from the contract's definitions.
type oracle struct {
	reach, a0    policy.Bitset
	shortest     map[int]int // capability -> fewest hand-offs of a walk reaching it
	exfilAgents  []string
	needApproval []string
	edges        map[policy.Edge][]string // hand-offs after the what-if
	comp         map[string]bool
	revoked      policy.Bitset
	untrusted    bool
}

func bruteForce(p *policy.Policy, sc *policy.Scenario) *oracle {
	ix := p.Caps()
	w := sc.WhatIf
	if w == nil {
		w = &policy.WhatIf{}
	}
	o := &oracle{shortest: map[int]int{}, edges: map[policy.Edge][]string{}, comp: map[string]bool{}, revoked: ix.New()}
	for _, c := range w.Revoke {
		id, _ := ix.ID(c)
		o.revoked.Set(id)
	}
	for _, c := range w.Compromised {
		o.comp[c] = true
	}
	for _, h := range p.Handoffs {
		e := policy.Edge{From: h.From, To: h.To}
		if slices.Contains(w.RemoveHandoffs, e) {
			continue
		}
		m := h.Mode
		if w.HandoffMode != "" {
			m = w.HandoffMode
		}
		if !slices.Contains(o.edges[e], m) {
			o.edges[e] = append(o.edges[e], m)
		}
	}
	o.a0 = p.C(p.Agent(sc.Start))
	if sc.Authority != nil {
		o.a0 = p.GrantCaps(sc.Authority)
	}
	o.a0.AndNot(o.revoked)
	// The scenario's flag adds outsider content; it never clears the start agent's own.
	o.untrusted = p.Agent(sc.Start).UntrustedInput || (sc.UntrustedInput != nil && *sc.UntrustedInput)
	o.reach = ix.New()
	exfil := map[string]bool{}
	perAgent := map[string]policy.Bitset{}
	var walk func(chain, ms []string)
	walk = func(chain, ms []string) {
		es := o.replay(p, chain, ms)
		u, s := o.untrusted, false
		for i, e := range es {
			a := chain[i]
			u = u || o.taints(p, i, a) || hasClass(p, e, classExtRead)
			s = s || hasClass(p, e, classSens)
			if i == len(es)-1 {
				if u && s && hasClass(p, e, classEgress) {
					exfil[a] = true
				}
				o.reach.Or(e)
				if perAgent[a] == nil {
					perAgent[a] = ix.New()
				}
				perAgent[a].Or(e)
				e.Each(func(id int) {
					if d, ok := o.shortest[id]; !ok || len(ms) < d {
						o.shortest[id] = len(ms)
					}
				})
			}
		}
		if len(ms) == p.MaxChainDepth() {
			return
		}
		for _, next := range p.Agents {
			for _, m := range o.edges[policy.Edge{From: chain[len(chain)-1], To: next.Name}] {
				walk(append(slices.Clone(chain), next.Name), append(slices.Clone(ms), m))
			}
		}
	}
	walk([]string{sc.Start}, nil)
	for a := range exfil {
		o.exfilAgents = append(o.exfilAgents, a)
	}
	slices.Sort(o.exfilAgents)
	need := map[string]bool{}
	for a, caps := range perAgent {
		caps.Each(func(id int) {
			if len(p.MatchingApprovals(a, ix.Action(id))) > 0 {
				need[ix.Name(id)] = true
			}
		})
	}
	o.needApproval = slices.Sorted(maps.Keys(need))
	return o
}

// taints reports whether agent a at position i of a walk makes the context untrusted by
// itself. At the start the scenario's untrusted_input or the start's own flag taints; an
// agent entered by a hand-off taints when it reads outsider content.
func (o *oracle) taints(p *policy.Policy, i int, a string) bool {
	if o.comp[a] {
		return true
	}
	if i == 0 {
		return o.untrusted
	}
	return p.Agent(a).UntrustedInput
}

// replay returns the effective authority after each agent of a walk, revocations removed.
func (o *oracle) replay(p *policy.Policy, chain, ms []string) []policy.Bitset {
	es := p.ChainAuthority(chain, ms, o.a0, o.comp)
	for _, e := range es {
		e.AndNot(o.revoked)
	}
	return es
}

const (
	classSens = iota
	classExtRead
	classEgress
)

func hasClass(p *policy.Policy, e policy.Bitset, class int) bool {
	found := false
	e.Each(func(id int) {
		a := p.Caps().Action(id)
		read := a.Effect == policy.EffectRead
		ext := p.Tool(a.Tool).External
		switch class {
		case classSens:
			found = found || read && (a.Data == policy.DataConfidential || a.Data == policy.DataRegulated)
		case classExtRead:
			found = found || read && ext
		case classEgress:
			found = found || !read && ext
		}
	})
	return found
}

// checkAgainstOracle runs the engine on one random policy and compares it with brute force;
// it also replays every witness.
func checkAgainstOracle(t *testing.T, seed uint64) {
	t.Helper()
	p := randomPolicy(seed)
	verify(t, fmt.Sprintf("seed %d", seed), p, p.Scenarios[0])
}

// verify compares the engine with brute force on one scenario and replays its witnesses.
func verify(t *testing.T, seed string, p *policy.Policy, sc *policy.Scenario) {
	t.Helper()
	res, err := Run(p, sc)
	if err != nil {
		t.Fatalf("%s: %v", seed, err)
	}
	o := bruteForce(p, sc)
	ix := p.Caps()
	esc := o.reach.Clone()
	esc.AndNot(o.a0)
	var gotEsc []string
	for _, e := range res.Escalations {
		gotEsc = append(gotEsc, e.Capability)
	}
	var gotExfil []string
	for _, x := range res.Exfiltration {
		gotExfil = append(gotExfil, x.Egress)
	}
	for _, c := range []struct {
		what      string
		got, want []string
	}{
		{"reach", res.Reachable, ix.Names(o.reach)},
		{"escalations", gotEsc, ix.Names(esc)},
		{"exfiltration agents", gotExfil, o.exfilAgents},
		{"needs_approval", res.NeedsApproval, o.needApproval},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Fatalf("%s: %s = %v, brute force says %v", seed, c.what, c.got, c.want)
		}
	}
	witnesses := slices.Clone(res.Escalations)
	for _, c := range res.Reachable {
		e, ok := res.Witness(c)
		if !ok || e.Capability != c {
			t.Fatalf("%s: no witness for reachable %s", seed, c)
		}
		witnesses = append(witnesses, e)
	}
	for _, e := range witnesses {
		capName := e.Capability
		id, _ := ix.ID(capName)
		last := o.checkWalk(t, p, seed, sc, e.Chain, e.Modes)
		if !last[len(last)-1].Has(id) {
			t.Fatalf("%s: witness %s for %s does not carry it", seed, e.Via(), capName)
		}
		if len(e.Modes) != o.shortest[id] {
			t.Fatalf("%s: witness %s for %s has %d hand-offs, shortest has %d", seed, e.Via(), capName, len(e.Modes), o.shortest[id])
		}
	}
	for _, x := range res.Exfiltration {
		es := o.checkWalk(t, p, seed, sc, x.Chain, x.Modes)
		u, s, sensAt := o.untrusted, false, ""
		for i, e := range es {
			a := x.Chain[i]
			u = u || o.taints(p, i, a) || hasClass(p, e, classExtRead)
			if !s && hasClass(p, e, classSens) {
				s, sensAt = true, a
			}
		}
		id, _ := ix.ID(x.Capability)
		if !u || !s || !es[len(es)-1].Has(id) || !o.egress(p, x.Capability) || x.Egress != x.Chain[len(x.Chain)-1] || x.SensitiveRead != sensAt {
			t.Fatalf("%s: exfiltration witness %+v does not replay (u=%v s=%v sensitive at %q)", seed, x, u, s, sensAt)
		}
	}
}

func (o *oracle) egress(p *policy.Policy, c string) bool {
	id, _ := p.Caps().ID(c)
	a := p.Caps().Action(id)
	return a.Effect != policy.EffectRead && p.Tool(a.Tool).External
}

// checkWalk asserts that chain is a walk from the start over hand-offs that exist after the
// what-if, in their modes and within the depth, and returns its replayed authority.
func (o *oracle) checkWalk(t *testing.T, p *policy.Policy, seed string, sc *policy.Scenario, chain, ms []string) []policy.Bitset {
	t.Helper()
	if len(chain) == 0 || chain[0] != sc.Start || len(ms) != len(chain)-1 || len(ms) > p.MaxChainDepth() {
		t.Fatalf("%s: bad witness shape %v %v", seed, chain, ms)
	}
	for i := 1; i < len(chain); i++ {
		if !slices.Contains(o.edges[policy.Edge{From: chain[i-1], To: chain[i]}], ms[i-1]) {
			t.Fatalf("%s: witness %s uses an undeclared hand-off", seed, FormatChain(chain, ms))
		}
	}
	return o.replay(p, chain, ms)
}

func TestReachMatchesBruteForce(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	for seed := range uint64(n) {
		checkAgainstOracle(t, seed)
	}
}

func FuzzReach(f *testing.F) {
	for _, s := range []uint64{0, 1, 42, 1 << 40} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seed uint64) { checkAgainstOracle(t, seed) })
}
