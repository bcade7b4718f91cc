package diff

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/simulate"
)

var (
	effects = []string{policy.EffectRead, policy.EffectRead, policy.EffectWrite, policy.EffectPayment, policy.EffectExport}
	classes = []string{policy.DataPublic, policy.DataInternal, policy.DataConfidential, policy.DataRegulated}
	modes   = []string{policy.ModeAttenuate, policy.ModeDelegate, policy.ModeForwardCredentials}
)

// randomPolicy builds a small policy: up to 9 agents, 5 tools, depth 1-4, every mode,
// untrusted inputs, external tools and a scenario. The same seed gives the same policy, so
// calling it twice gives two independent copies.
func randomPolicy(seed uint64) *policy.Policy {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	p := &policy.Policy{Dir: "p", Settings: policy.Settings{MaxChainDepth: 1 + rng.IntN(4)}}
	for t := range 1 + rng.IntN(5) {
		tool := &policy.Tool{Name: fmt.Sprintf("t%d", t), External: rng.IntN(3) == 0}
		for a := range 1 + rng.IntN(3) {
			tool.Actions = append(tool.Actions, &policy.Action{Tool: tool.Name, Name: fmt.Sprintf("a%d", a),
				Effect: effects[rng.IntN(len(effects))], Data: classes[rng.IntN(len(classes))]})
		}
		p.Tools = append(p.Tools, tool)
	}
	n := 2 + rng.IntN(8)
	for a := range n {
		p.Agents = append(p.Agents, &policy.Agent{Name: fmt.Sprintf("g%d", a), UntrustedInput: rng.IntN(5) == 0, Grants: randomGrants(rng, p)})
	}
	for i := range rng.IntN(3 * n) {
		p.Handoffs = append(p.Handoffs, &policy.Handoff{From: p.Agents[rng.IntN(n)].Name, To: p.Agents[rng.IntN(n)].Name,
			Mode: modes[rng.IntN(3)], Index: i})
	}
	p.Scenarios = []*policy.Scenario{{Name: "s", Start: p.Agents[rng.IntN(n)].Name}}
	p.Index()
	return p
}

func randomGrants(rng *rand.Rand, p *policy.Policy) []*policy.Grant {
	var gs []*policy.Grant
	for range rng.IntN(4) {
		t := p.Tools[rng.IntN(len(p.Tools))]
		g := &policy.Grant{Tool: t.Name, Actions: []string{t.Actions[rng.IntN(len(t.Actions))].Name}}
		if rng.IntN(8) == 0 {
			g.Tool, g.Actions = policy.Wildcard, []string{policy.Wildcard}
		}
		gs = append(gs, g)
	}
	return gs
}

// edit applies one to three random edits of the kinds a pull request makes.
func edit(p *policy.Policy, rng *rand.Rand) {
	for range 1 + rng.IntN(3) {
		n := len(p.Agents)
		switch rng.IntN(9) {
		case 0: // add a hand-off
			p.Handoffs = append(p.Handoffs, &policy.Handoff{From: p.Agents[rng.IntN(n)].Name, To: p.Agents[rng.IntN(n)].Name, Mode: modes[rng.IntN(3)]})
		case 1: // remove a hand-off
			if len(p.Handoffs) > 0 {
				i := rng.IntN(len(p.Handoffs))
				p.Handoffs = slices.Delete(p.Handoffs, i, i+1)
			}
		case 2: // change a hand-off's mode
			if len(p.Handoffs) > 0 {
				p.Handoffs[rng.IntN(len(p.Handoffs))].Mode = modes[rng.IntN(3)]
			}
		case 3: // change an agent's grants
			p.Agents[rng.IntN(n)].Grants = randomGrants(rng, p)
		case 4:
			a := p.Agents[rng.IntN(n)]
			a.UntrustedInput = !a.UntrustedInput
		case 5: // change an action's effect or data class
			t := p.Tools[rng.IntN(len(p.Tools))]
			a := t.Actions[rng.IntN(len(t.Actions))]
			a.Effect, a.Data = effects[rng.IntN(len(effects))], classes[rng.IntN(len(classes))]
		case 6:
			t := p.Tools[rng.IntN(len(p.Tools))]
			t.External = !t.External
		case 7: // add an agent with a hand-off into the estate
			name := fmt.Sprintf("new%d", rng.IntN(1000))
			if p.Agent(name) == nil {
				p.Agents = append(p.Agents, &policy.Agent{Name: name, Grants: randomGrants(rng, p)})
				p.Handoffs = append(p.Handoffs, &policy.Handoff{From: name, To: p.Agents[rng.IntN(n)].Name, Mode: modes[rng.IntN(3)]})
			}
		case 8:
			if rng.IntN(4) == 0 {
				p.Settings.MaxChainDepth = 1 + rng.IntN(4)
			}
		}
		for i, h := range p.Handoffs {
			h.Index = i
		}
		p.Index()
	}
}

// TestIncrementalReachMatchesFull checks, for random policies and random edits, that the
// incremental reach diff equals the full recomputation, that every reported change of a start
// both versions have is exactly the set difference of that start's two fixpoints computed
// from scratch, and that every witness chain is a valid walk that carries the capability on
// its side.
func TestIncrementalReachMatchesFull(t *testing.T) {
	n := 600
	if testing.Short() {
		n = 100
	}
	recomputed, total := 0, 0
	for seed := range uint64(n) {
		base, head := randomPolicy(seed), randomPolicy(seed)
		edit(head, rand.New(rand.NewPCG(seed, 7)))
		inc, err := Run(base, head, Options{})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		full, err := Run(base, head, Options{FullReach: true})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if !reflect.DeepEqual(inc.Reach, full.Reach) || !reflect.DeepEqual(inc.Exfiltration, full.Exfiltration) {
			t.Fatalf("seed %d: incremental reach differs from full recomputation:\nincremental %+v\n%+v\nfull %+v\n%+v",
				seed, inc.Reach, inc.Exfiltration, full.Reach, full.Exfiltration)
		}
		recomputed += inc.Summary.StartsRecomputed
		total += inc.Summary.Starts
		for _, a := range head.Agents {
			if base.Agent(a.Name) == nil {
				continue
			}
			rb, err := simulate.Run(base, simulate.AdHoc(a.Name))
			if err != nil {
				t.Fatal(err)
			}
			rh, err := simulate.Run(head, simulate.AdHoc(a.Name))
			if err != nil {
				t.Fatal(err)
			}
			wantAdded, wantRemoved := minus(rh.Reachable, rb.Reachable), minus(rb.Reachable, rh.Reachable)
			var gotAdded, gotRemoved []string
			for _, x := range inc.Reach {
				if x.Start != a.Name || x.Scenario != "" {
					continue
				}
				p := head
				if x.Op == Added {
					gotAdded = append(gotAdded, x.Capability)
				} else {
					gotRemoved, p = append(gotRemoved, x.Capability), base
				}
				checkWitness(t, seed, p, x)
			}
			if !slices.Equal(gotAdded, wantAdded) || !slices.Equal(gotRemoved, wantRemoved) {
				t.Fatalf("seed %d start %s: reported +%v -%v, fixpoints from scratch give +%v -%v",
					seed, a.Name, gotAdded, gotRemoved, wantAdded, wantRemoved)
			}
		}
	}
	t.Logf("%d random edits: %d of %d starts recomputed", n, recomputed, total)
	if recomputed == total {
		t.Errorf("every start was recomputed: the incremental path never skipped one")
	}
}

// checkWitness checks that x's chain starts at its start, follows declared hand-offs in
// their modes within max_chain_depth, and that the effective authority at its end holds the
// capability, and that Escalation says whether the start's own authority lacks it.
func checkWitness(t *testing.T, seed uint64, p *policy.Policy, x ReachChange) {
	t.Helper()
	if len(x.Chain) == 0 || x.Chain[0] != x.Start || len(x.Modes) != len(x.Chain)-1 || len(x.Modes) > p.MaxChainDepth() {
		t.Fatalf("seed %d: bad witness shape %+v", seed, x)
	}
	ix := p.Caps()
	e := p.C(p.Agent(x.Start))
	id, ok := ix.ID(x.Capability)
	if !ok {
		t.Fatalf("seed %d: %s is not a capability of %s", seed, x.Capability, p.Dir)
	}
	if x.Escalation == e.Has(id) {
		t.Fatalf("seed %d: %+v: escalation=%v but the start holds it=%v", seed, x, x.Escalation, e.Has(id))
	}
	for i, m := range x.Modes {
		from, to := x.Chain[i], x.Chain[i+1]
		if !slices.Contains(p.HandoffModes(from, to), m) {
			t.Fatalf("seed %d: witness %+v: no %s hand-off %s -> %s", seed, x, m, from, to)
		}
		e = policy.Step(e, m, p.C(p.Agent(to)), false)
	}
	if !e.Has(id) {
		t.Fatalf("seed %d: witness %+v does not carry %s", seed, x, x.Capability)
	}
}
