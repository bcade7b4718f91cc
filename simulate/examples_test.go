package simulate

import (
	"testing"

	"github.com/agentctl/agentctl/internal/testtool"
)

// TestExamples runs every scenario of every example estate: each has expectations, they
// hold, and the engine agrees with brute force on them (witnesses replayed).
func TestExamples(t *testing.T) {
	n := 0
	for _, ex := range testtool.Examples(t) {
		dir, p := ex.Dir, ex.Policy
		if len(p.Scenarios) < 3 {
			t.Errorf("%s: %d scenarios, want several", dir, len(p.Scenarios))
		}
		compromise, attenuate := false, false
		for _, sc := range p.Scenarios {
			n++
			r, err := Run(p, sc)
			if err != nil {
				t.Fatalf("%s: %v", dir, err)
			}
			if sc.Expect == nil || sc.Expect.Escalations == nil || sc.Expect.Exfiltration == nil || sc.Expect.NeedsApproval == nil {
				t.Errorf("%s: scenario %s lacks a full expect block", dir, sc.Name)
			}
			if !r.Passed {
				t.Errorf("%s: scenario %s failed: %q", dir, sc.Name, r.Failures)
			}
			if w := sc.WhatIf; w != nil {
				compromise = compromise || len(w.Compromised) > 0
				attenuate = attenuate || w.HandoffMode == "attenuate"
			}
			verify(t, dir+" "+sc.Name, p, sc)
		}
		if !compromise || !attenuate {
			t.Errorf("%s: want a compromise and an all-attenuate scenario (compromise=%v attenuate=%v)", dir, compromise, attenuate)
		}
	}
	if n == 0 {
		t.Fatal("no example scenarios found")
	}
}
