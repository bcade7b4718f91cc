package simulate

import (
	"slices"

	"github.com/agentctl/agentctl/policy"
)

// AdHocName names the scenario built from command-line flags.
const AdHocName = "ad-hoc"

// AdHoc returns a scenario for a task entering at start with the start agent's defaults.
func AdHoc(start string) *policy.Scenario {
	return &policy.Scenario{Name: AdHocName, Start: start}
}

// WithWhatIf returns a copy of sc whose what-if is extended by w: lists are merged and w's
// hand-off mode, if set, wins. The copy has no expectations, since they were written for the
// scenario as declared.
func WithWhatIf(sc *policy.Scenario, w *policy.WhatIf) *policy.Scenario {
	c := *sc
	c.Expect = nil
	m := policy.WhatIf{}
	if sc.WhatIf != nil {
		m = *sc.WhatIf
	}
	m.Compromised = sortedUnique(slices.Concat(m.Compromised, w.Compromised))
	m.Revoke = sortedUnique(slices.Concat(m.Revoke, w.Revoke))
	m.RemoveHandoffs = slices.Clone(m.RemoveHandoffs)
	for _, e := range w.RemoveHandoffs {
		if !slices.Contains(m.RemoveHandoffs, e) {
			m.RemoveHandoffs = append(m.RemoveHandoffs, e)
		}
	}
	if w.HandoffMode != "" {
		m.HandoffMode = w.HandoffMode
	}
	c.WhatIf = &m
	return &c
}

// Baseline returns a copy of sc without its what-if and expectations.
func Baseline(sc *policy.Scenario) *policy.Scenario {
	c := *sc
	c.WhatIf, c.Expect = nil, nil
	return &c
}

// Comparison sets a scenario's baseline beside its what-if.
type Comparison struct {
	Policy   string       `json:"policy,omitempty"`
	Name     string       `json:"name"`
	Baseline *Result      `json:"baseline"`
	WhatIf   *Result      `json:"what_if"`
	Appeared []Escalation `json:"appeared"` // reachable only under the what-if, with its witness there
	Vanished []Escalation `json:"vanished"` // reachable only in the baseline, with its witness there
}

// Compare runs base and whatIf on the estate and lists the capabilities that appear or
// vanish.
func (e *Estate) Compare(base, whatIf *policy.Scenario) (*Comparison, error) {
	b, err := e.Run(base)
	if err != nil {
		return nil, err
	}
	w, err := e.Run(whatIf)
	if err != nil {
		return nil, err
	}
	c := &Comparison{Name: whatIf.Name, Baseline: b, WhatIf: w, Appeared: []Escalation{}, Vanished: []Escalation{}}
	inBase, inWhatIf := set(b.Reachable), set(w.Reachable)
	for _, x := range w.Reachable {
		if !inBase[x] {
			e, _ := w.Witness(x)
			c.Appeared = append(c.Appeared, e)
		}
	}
	for _, x := range b.Reachable {
		if !inWhatIf[x] {
			e, _ := b.Witness(x)
			c.Vanished = append(c.Vanished, e)
		}
	}
	return c, nil
}

func set(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, x := range list {
		m[x] = true
	}
	return m
}
