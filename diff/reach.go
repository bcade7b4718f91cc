package diff

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
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
	starts = slices.Sorted(maps.Keys(budget))
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

// view is what the reach comparison needs of one start or scenario on one side: a start's
// *simulate.Reach, or a scenario's *simulate.Result.
type view interface {
	Capabilities() []string
	Own(c string) bool
	Witness(c string) (simulate.Escalation, bool)
	Egress() []string
	Exfiltration(egress []string) []simulate.Exfiltration
}

// scenarioView adapts a scenario result: its authority may differ from the start's grants.
type scenarioView struct {
	*simulate.Result
	esc map[string]bool
}

func newScenarioView(r *simulate.Result) scenarioView {
	esc := map[string]bool{}
	for _, e := range r.Escalations {
		esc[e.Capability] = true
	}
	return scenarioView{r, esc}
}

func (v scenarioView) Capabilities() []string { return v.Reachable }
func (v scenarioView) Own(c string) bool      { return !v.esc[c] }
func (v scenarioView) Egress() []string {
	var out []string
	for _, x := range v.Result.Exfiltration {
		out = append(out, x.Egress)
	}
	return out
}
func (v scenarioView) Exfiltration(egress []string) []simulate.Exfiltration {
	var out []simulate.Exfiltration
	for _, x := range v.Result.Exfiltration {
		if slices.Contains(egress, x.Egress) {
			out = append(out, x)
		}
	}
	return out
}

// chunk is how many starts are computed before they are compared and dropped: memory stays
// bounded however many starts a change affects.
const chunk = 256

// reach fills the reach and exfiltration changes of every affected start and of every
// scenario both versions declare, and the scenario outcomes. Each side is computed in its
// own goroutine (an Estate is not safe for concurrent use).
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
	for lo := 0; lo < len(starts); lo += chunk {
		part := starts[lo:min(lo+chunk, len(starts))]
		vb, vh, err := both(b, h, func(s side) ([]view, error) {
			out := make([]view, len(part))
			for i, start := range part {
				if s.p.Agent(start) == nil {
					continue
				}
				x, err := s.est.ReachFrom(start)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", s.p.Dir, err)
				}
				out[i] = x
			}
			return out, nil
		})
		if err != nil {
			return err
		}
		for i, start := range part {
			if vb[i] != nil && vh[i] != nil {
				r.Summary.StartsRecomputed++
			}
			r.compareReach(b, h, start, "", vb[i], vh[i])
		}
	}
	// Scenarios: reach of those both versions declare; outcomes of all.
	scb, sch := scenarioPairs(d.base, d.head)
	sbr, shr, err := both(b, h, func(s side) ([]*simulate.Result, error) {
		scs := scb
		if s.p == d.head {
			scs = sch
		}
		out := make([]*simulate.Result, len(scs))
		for i, sc := range scs {
			if sc == nil {
				continue
			}
			res, err := s.est.Run(sc)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.p.Dir, err)
			}
			out[i] = res
		}
		return out, nil
	})
	if err != nil {
		return err
	}
	for i := range scb {
		if scb[i] != nil && sch[i] != nil {
			r.compareReach(b, h, sch[i].Start, sch[i].Name, newScenarioView(sbr[i]), newScenarioView(shr[i]))
		}
		r.scenarioOutcome(scb[i], sch[i], sbr[i], shr[i])
	}
	slices.SortStableFunc(r.Reach, func(x, y ReachChange) int {
		return strings.Compare(x.Scenario+"\x00"+x.Start+"\x00"+x.Capability, y.Scenario+"\x00"+y.Start+"\x00"+y.Capability)
	})
	slices.SortStableFunc(r.Exfiltration, func(x, y ExfilChange) int {
		return strings.Compare(x.Scenario+"\x00"+x.Start+"\x00"+x.Egress, y.Scenario+"\x00"+y.Start+"\x00"+y.Egress)
	})
	r.Reach = mergeScenarios(r.Reach, func(x *ReachChange) (string, string, *[]string) {
		return x.Scenario, strings.Join([]string{x.Start, x.Op, x.Capability, strconv.FormatBool(x.Escalation),
			strings.Join(x.Chain, ","), strings.Join(x.Modes, ",")}, "\x00"), &x.Scenarios
	})
	r.Exfiltration = mergeScenarios(r.Exfiltration, func(x *ExfilChange) (string, string, *[]string) {
		return x.Scenario, strings.Join([]string{x.Start, x.Op, x.Egress, x.Capability, x.SensitiveRead,
			strings.Join(x.Chain, ","), strings.Join(x.Modes, ",")}, "\x00"), &x.Scenarios
	})
	return nil
}

// mergeScenarios drops each scenario entry (sorted after the start entries) that repeats a
// start agent's entry, naming the scenario in that entry instead. key returns an entry's
// scenario, what makes it the same change, and a pointer to the entry's Scenarios.
func mergeScenarios[T any](xs []T, key func(*T) (string, string, *[]string)) []T {
	first := map[string]int{} // key -> index in out of the start's entry
	var out []T
	for j := range xs {
		scenario, k, _ := key(&xs[j])
		if scenario == "" {
			first[k] = len(out)
			out = append(out, xs[j])
			continue
		}
		if i, ok := first[k]; ok {
			_, _, names := key(&out[i])
			*names = append(*names, scenario)
			continue
		}
		out = append(out, xs[j])
	}
	return out
}

// gatingRules are the approval rules of p that match capability c executed by agent, as
// names, a threshold rule with its threshold.
func gatingRules(p *policy.Policy, agent, c string) []string {
	tool, action, _ := policy.SplitCapability(c)
	t := p.Tool(tool)
	if t == nil || t.Action(action) == nil {
		return nil
	}
	var out []string
	for _, rule := range p.MatchingApprovals(agent, t.Action(action)) {
		name := rule.Name
		if th := rule.Threshold; th != nil {
			name += fmt.Sprintf(" (when %s > %s)", th.Attribute, strconv.FormatFloat(th.Above, 'f', -1, 64))
		}
		out = append(out, name)
	}
	return out
}

// both runs f on each side concurrently.
func both[T any](b, h side, f func(side) (T, error)) (T, T, error) {
	var xb, xh T
	var errB, errH error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); xb, errB = f(b) }()
	go func() { defer wg.Done(); xh, errH = f(h) }()
	wg.Wait()
	return xb, xh, cmp.Or(errB, errH)
}

// agentNames lists the agents of either version, sorted.
func agentNames(ps ...*policy.Policy) []string {
	set := map[string]bool{}
	for _, p := range ps {
		for _, a := range p.Agents {
			set[a.Name] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
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
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		bs, hs = append(bs, byName[name][0]), append(hs, byName[name][1])
	}
	return bs, hs
}

// compareReach records what one start (or scenario) reaches in one version only. A start
// only one version has is compared with nothing, but its own authority is not listed: that
// is the structural change of adding or removing the agent.
func (r *Result) compareReach(b, h side, start, scenario string, vb, vh view) {
	var capsB, capsH, egB, egH []string
	if vb != nil {
		capsB, egB = vb.Capabilities(), vb.Egress()
	}
	if vh != nil {
		capsH, egH = vh.Capabilities(), vh.Egress()
	}
	one := func(s side, v view, mine, other, myEgress, otherEgress []string, onlyEscalations bool, op string) {
		if v == nil {
			return
		}
		file, line := startPos(s.p, start, scenario)
		for _, c := range minus(mine, other) {
			esc := !v.Own(c)
			if onlyEscalations && !esc {
				continue
			}
			w, _ := v.Witness(c)
			var gates []string
			if len(w.Chain) > 0 {
				gates = gatingRules(s.p, w.Chain[len(w.Chain)-1], c)
			}
			r.Reach = append(r.Reach, ReachChange{Start: start, Scenario: scenario, Capability: c, Op: op,
				Escalation: esc, Chain: w.Chain, Modes: w.Modes, Approvals: gates, File: file, Line: line})
		}
		if extra := minus(myEgress, otherEgress); len(extra) > 0 {
			for _, x := range v.Exfiltration(extra) {
				r.Exfiltration = append(r.Exfiltration, ExfilChange{Start: start, Scenario: scenario, Op: op,
					Chain: x.Chain, Modes: x.Modes, SensitiveRead: x.SensitiveRead, Egress: x.Egress,
					Capability: x.Capability, Runtime: x.Runtime, File: file, Line: line})
			}
		}
	}
	one(h, vh, capsH, capsB, egH, egB, vb == nil, Added)
	one(b, vb, capsB, capsH, egB, egH, vh == nil, Removed)
}

// minus returns the elements of a that b lacks, in a's order.
func minus(a, b []string) []string {
	in := make(map[string]bool, len(b))
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
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
