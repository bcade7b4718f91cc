package gen_test

import (
	"testing"

	"github.com/agentctl/agentctl/internal/gen"
	"github.com/agentctl/agentctl/lint"
	"github.com/agentctl/agentctl/schema"
)

// TestEstateLoads checks that generated estates are valid policies: the loader accepts them
// and sees exactly the sizes that were asked for.
func TestEstateLoads(t *testing.T) {
	for _, opts := range []gen.Options{
		{Agents: 1, Seed: 1},
		{Agents: 2, Seed: 2},
		{Agents: 30, Seed: 3},
		{Agents: 30, Seed: 4},
		{Agents: 250, Seed: 5},
	} {
		dir := t.TempDir()
		if err := gen.WriteDir(dir, opts); err != nil {
			t.Fatal(err)
		}
		p, err := schema.Load(dir)
		if err != nil {
			t.Fatalf("agents=%d seed=%d: %v", opts.Agents, opts.Seed, err)
		}
		if len(p.Agents) != opts.Agents || len(p.Tools) != opts.Tools() {
			t.Errorf("agents=%d seed=%d: loaded %d agents, %d tools", opts.Agents, opts.Seed, len(p.Agents), len(p.Tools))
		}
		if len(p.Approvals) < 3 || len(p.Scenarios) < 2 {
			t.Errorf("agents=%d seed=%d: %d approvals, %d scenarios", opts.Agents, opts.Seed, len(p.Approvals), len(p.Scenarios))
		}
		if opts.Agents > 1 && len(p.Handoffs) < opts.Agents {
			t.Errorf("agents=%d seed=%d: only %d hand-offs", opts.Agents, opts.Seed, len(p.Handoffs))
		}
		for _, a := range p.Agents {
			if len(a.Grants) == 0 {
				t.Errorf("agents=%d seed=%d: %s has no grants", opts.Agents, opts.Seed, a.Name)
			}
		}
	}
}

// TestEstateTripsEveryCheck checks that a generated estate gives every check of the
// catalogue something to find, so benchmarks exercise every check.
func TestEstateTripsEveryCheck(t *testing.T) {
	checks := []string{
		"AC001", "AC002", "AC003", "AC004", "AC005", "AC010", "AC011", "AC020", "AC021", "AC022",
		"AC030", "AC031", "AC032", "AC033", "AC034", "AC040", "AC050", "AC051", "AC052", "AC053",
		"AC054",
	}
	for _, seed := range []uint64{1, 2} {
		dir := t.TempDir()
		if err := gen.WriteDir(dir, gen.Options{Agents: 200, Seed: seed}); err != nil {
			t.Fatal(err)
		}
		p, err := schema.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		found := map[string]int{}
		for _, f := range lint.Run(p, lint.Options{}) {
			found[f.Check.ID]++
		}
		for _, id := range checks {
			if found[id] == 0 {
				t.Errorf("seed %d: no %s finding", seed, id)
			}
		}
	}
}
