package diff

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/simulate"
)

// affectedStarts returns the agents (of either version) whose reach a change can affect: those
// that reach, within max_chain_depth hand-offs in either version, an agent whose capabilities
// or input trust changed (or that holds a capability of a changed tool), or the sender of a
// hand-off whose modes changed within max_chain_depth-1 hand-offs. It searches backwards from
// the changed elements, so its cost grows with what changed, not with the estate. all is true
// when every start is affected (max_chain_depth changed).
func (d *delta) affectedStarts() (starts []string, all bool) {
	if d.settings {
		return nil, true
	}
	depth := max(d.base.MaxChainDepth(), d.head.MaxChainDepth())
	// budget[a]: the most hand-offs a walk may still take after reaching a; -1 unseen.
	budget := map[string]int{}
	var buckets = make([][]string, depth+1)
	seed := func(a string, b int) {
		if old, ok := budget[a]; !ok || b > old {
			budget[a] = b
			buckets[b] = append(buckets[b], a)
		}
	}
	for a := range d.agents {
		seed(a, depth)
	}
	for _, p := range []*policy.Policy{d.base, d.head} {
		for _, a := range p.Agents {
			if d.agents[a.Name] {
				continue
			}
			for _, g := range a.Grants {
				if g.Tool == policy.Wildcard || d.tools[g.Tool] {
					if len(d.tools) > 0 {
						seed(a.Name, depth)
					}
					break
				}
			}
		}
	}
	for x := range d.edges {
		seed(x.From, depth-1)
	}
	if len(budget) == 0 {
		return nil, false
	}
	preds := predecessors(d.base, d.head)
	// Highest budget first: an agent is expanded once, with the most budget it can get.
	done := map[string]bool{}
	for b := depth; b >= 0; b-- {
		for i := 0; i < len(buckets[b]); i++ {
			a := buckets[b][i]
			if done[a] || budget[a] != b {
				continue
			}
			done[a] = true
			if b == 0 {
				continue
			}
			for _, x := range preds[a] {
				seed(x, b-1)
			}
		}
	}
	starts = sortedKeys(budget)
	return starts, false
}

// predecessors maps each agent to the senders of its hand-offs in either version.
func predecessors(ps ...*policy.Policy) map[string][]string {
	out := map[string][]string{}
	seen := map[policy.Edge]bool{}
	for _, p := range ps {
		for _, h := range p.Handoffs {
			x := policy.Edge{From: h.From, To: h.To}
			if !seen[x] {
				seen[x] = true
				out[h.To] = append(out[h.To], h.From)
			}
		}
	}
	return out
}

// side is one version prepared for simulation.
type side struct {
	p   *policy.Policy
	est *simulate.Estate
}

// runAll runs each scenario on each side concurrently (each Estate is used by one goroutine).
// A nil scenario for a side skips it.
func runAll(b, h side, bs, hs []*policy.Scenario) (br, hr []*simulate.Result, err error) {
	var wg sync.WaitGroup
	var errB, errH error
	run := func(s side, scs []*policy.Scenario, out *[]*simulate.Result, errp *error) {
		defer wg.Done()
		*out = make([]*simulate.Result, len(scs))
		for i, sc := range scs {
			if sc == nil {
				continue
			}
			r, err := s.est.Run(sc)
			if err != nil {
				*errp = fmt.Errorf("%s: %w", s.p.Dir, err)
				return
			}
			(*out)[i] = r
		}
	}
	wg.Add(2)
	go run(b, bs, &br, &errB)
	go run(h, hs, &hr, &errH)
	wg.Wait()
	if errB != nil {
		return nil, nil, errB
	}
	return br, hr, errH
}

// reach fills the reach and exfiltration changes of every affected start and of every
// scenario both versions declare, and the scenario outcomes.
func (r *Result) reach(d *delta, full bool) error {
	eb, err := simulate.NewEstate(d.base)
	if err != nil {
		return fmt.Errorf("%s: %w", d.base.Dir, err)
	}
	eh, err := simulate.NewEstate(d.head)
	if err != nil {
		return fmt.Errorf("%s: %w", d.head.Dir, err)
	}
	b, h := side{d.base, eb}, side{d.head, eh}
	starts, all := d.affectedStarts()
	if full || all {
		starts = agentNames(d.base, d.head)
	}
	for _, a := range d.head.Agents {
		if d.base.Agent(a.Name) != nil {
			r.Summary.Starts++
		}
	}
	var bs, hs []*policy.Scenario
	for _, s := range starts {
		var x, y *policy.Scenario
		if d.base.Agent(s) != nil {
			x = simulate.AdHoc(s)
		}
		if d.head.Agent(s) != nil {
			y = simulate.AdHoc(s)
		}
		if x != nil && y != nil {
			r.Summary.StartsRecomputed++
		}
		bs, hs = append(bs, x), append(hs, y)
	}
	br, hr, err := runAll(b, h, bs, hs)
	if err != nil {
		return err
	}
	for i, s := range starts {
		r.compareReach(b, h, s, "", br[i], hr[i])
	}
	// Scenarios: reach of those both versions declare; outcomes of all.
	scb, sch := scenarioPairs(d.base, d.head)
	sbr, shr, err := runAll(b, h, scb, sch)
	if err != nil {
		return err
	}
	for i := range scb {
		if scb[i] != nil && sch[i] != nil {
			r.compareReach(b, h, sch[i].Start, sch[i].Name, sbr[i], shr[i])
		}
		r.scenarioOutcome(scb[i], sch[i], sbr[i], shr[i])
	}
	slices.SortStableFunc(r.Reach, func(x, y ReachChange) int {
		return strings.Compare(x.Scenario+"\x00"+x.Start+"\x00"+x.Capability, y.Scenario+"\x00"+y.Start+"\x00"+y.Capability)
	})
	slices.SortStableFunc(r.Exfiltration, func(x, y ExfilChange) int {
		return strings.Compare(x.Scenario+"\x00"+x.Start+"\x00"+x.Egress, y.Scenario+"\x00"+y.Start+"\x00"+y.Egress)
	})
	return nil
}

// agentNames lists the agents of either version, sorted.
func agentNames(ps ...*policy.Policy) []string {
	set := map[string]bool{}
	for _, p := range ps {
		for _, a := range p.Agents {
			set[a.Name] = true
		}
	}
	return sortedKeys(set)
}

// scenarioPairs lists the scenarios of either version by name, nil on the side without it.
func scenarioPairs(base, head *policy.Policy) (bs, hs []*policy.Scenario) {
	byName := map[string][2]*policy.Scenario{}
	for _, s := range base.Scenarios {
		byName[s.Name] = [2]*policy.Scenario{s, nil}
	}
	for _, s := range head.Scenarios {
		x := byName[s.Name]
		x[1] = s
		byName[s.Name] = x
	}
	for _, name := range sortedKeys(byName) {
		bs, hs = append(bs, byName[name][0]), append(hs, byName[name][1])
	}
	return bs, hs
}

// compareReach records what one start (or scenario) reaches in one version only. A start
// only one version has is compared with nothing, but its own authority is not listed: that
// is the structural change of adding or removing the agent.
func (r *Result) compareReach(b, h side, start, scenario string, br, hr *simulate.Result) {
	var inB, inH map[string]bool
	if br != nil {
		inB = setOf(br.Reachable)
	}
	if hr != nil {
		inH = setOf(hr.Reachable)
	}
	one := func(s side, res *simulate.Result, other map[string]bool, op string) {
		if res == nil {
			return
		}
		esc := map[string]bool{}
		for _, e := range res.Escalations {
			esc[e.Capability] = true
		}
		file, line := startPos(s.p, start, scenario)
		for _, c := range res.Reachable {
			if other[c] || (other == nil && !esc[c]) {
				continue
			}
			w, _ := res.Witness(c)
			r.Reach = append(r.Reach, ReachChange{Start: start, Scenario: scenario, Capability: c, Op: op,
				Escalation: esc[c], Chain: w.Chain, Modes: w.Modes, File: file, Line: line})
		}
		others := map[string]bool{}
		if op == Added && br != nil {
			for _, x := range br.Exfiltration {
				others[x.Egress] = true
			}
		}
		if op == Removed && hr != nil {
			for _, x := range hr.Exfiltration {
				others[x.Egress] = true
			}
		}
		for _, x := range res.Exfiltration {
			if others[x.Egress] {
				continue
			}
			r.Exfiltration = append(r.Exfiltration, ExfilChange{Start: start, Scenario: scenario, Op: op,
				Chain: x.Chain, Modes: x.Modes, SensitiveRead: x.SensitiveRead, Egress: x.Egress,
				Capability: x.Capability, File: file, Line: line})
		}
	}
	one(h, hr, inB, Added)
	one(b, br, inH, Removed)
}

// startPos is where the start agent (or the scenario) is written in p.
func startPos(p *policy.Policy, start, scenario string) (string, int) {
	if scenario != "" {
		for _, s := range p.Scenarios {
			if s.Name == scenario {
				return posOf(s.Pos)
			}
		}
	}
	if a := p.Agent(start); a != nil {
		return posOf(a.Pos)
	}
	return "", 0
}

func setOf(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, x := range list {
		m[x] = true
	}
	return m
}
