package gen

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestEstateDeterministic(t *testing.T) {
	a := Estate(Options{Agents: 200, Seed: 7})
	b := Estate(Options{Agents: 200, Seed: 7})
	if !bytes.Equal(a, b) {
		t.Fatal("same options gave different bytes")
	}
	c := Estate(Options{Agents: 200, Seed: 8})
	if bytes.Equal(a, c) {
		t.Fatal("seeds 7 and 8 gave identical estates")
	}
}

var (
	agentDecl   = regexp.MustCompile(`(?m)^\t"(agent_\d+)": \{$`)
	toolDecl    = regexp.MustCompile(`(?m)^\t"(tool_\d+)": \{$`)
	actionDecl  = regexp.MustCompile(`(?m)^\t\t\t"([a-z_]+)": \{effect: "([a-z_]+)", data: "([a-z]+)"\}$`)
	grantLine   = regexp.MustCompile(`(?m)^\t\t\t\{tool: "([^"]+)", actions: \[([^\]]*)\]`)
	handoffLine = regexp.MustCompile(`(?m)^\t\{from: "(agent_\d+)", to: "(agent_\d+)", mode: "([a-z_]+)"\},$`)
	nameRE      = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
)

// section returns the text between "label: {" or "label: [" at column 0 and the closing line.
func section(t *testing.T, src, label string) string {
	t.Helper()
	start := strings.Index(src, "\n"+label+": ")
	if start < 0 {
		t.Fatalf("no %s section", label)
	}
	rest := src[start+1:]
	end := strings.Index(rest, "\n}\n")
	if e := strings.Index(rest, "\n]\n"); e >= 0 && (end < 0 || e < end) {
		end = e
	}
	return rest[:end]
}

func TestEstateShape(t *testing.T) {
	for _, n := range []int{1, 2, 10, 1000} {
		src := string(Estate(Options{Agents: n, Seed: 42}))
		if !strings.Contains(src, "\npackage policy\n") {
			t.Fatalf("n=%d: no package clause", n)
		}

		agents := agentDecl.FindAllStringSubmatch(section(t, src, "agents"), -1)
		if len(agents) != n {
			t.Fatalf("n=%d: %d agents", n, len(agents))
		}
		tools := toolDecl.FindAllStringSubmatch(section(t, src, "tools"), -1)
		if want := max(1, n/2); len(tools) != want {
			t.Fatalf("n=%d: %d tools, want %d", n, len(tools), want)
		}

		// Every tool has 2–5 actions with valid effects; remember them for the grants.
		actions := map[string]map[string]bool{}
		toolBlocks := strings.Split(section(t, src, "tools"), "\n\t\"tool_")[1:]
		effects := map[string]bool{}
		for i, blk := range toolBlocks {
			name := tools[i][1]
			acts := actionDecl.FindAllStringSubmatch(blk, -1)
			if len(acts) < 2 || len(acts) > 5 {
				t.Errorf("n=%d: %s has %d actions", n, name, len(acts))
			}
			actions[name] = map[string]bool{}
			for _, a := range acts {
				actions[name][a[1]] = true
				effects[a[2]] = true
			}
		}
		if n >= 1000 && len(effects) != 8 {
			t.Errorf("n=%d: only effects %v", n, effects)
		}

		// Every agent has 2–6 grants (fewer only when there are fewer tools), each naming a
		// declared tool and action.
		agentBlocks := strings.Split(section(t, src, "agents"), "\n\t\"agent_")[1:]
		for i, blk := range agentBlocks {
			grants := grantLine.FindAllStringSubmatch(blk, -1)
			lo := min(2, len(tools))
			if len(grants) < lo || len(grants) > 7 { // 6 plus the rare all-tools wildcard
				t.Errorf("n=%d: %s has %d grants", n, agents[i][1], len(grants))
			}
			for _, gr := range grants {
				if gr[1] == "*" {
					continue
				}
				if actions[gr[1]] == nil {
					t.Errorf("n=%d: %s grants undeclared tool %s", n, agents[i][1], gr[1])
				}
				for _, a := range strings.Split(gr[2], ", ") {
					a = strings.Trim(a, `"`)
					if a != "*" && !actions[gr[1]][a] {
						t.Errorf("n=%d: %s grants undeclared action %s.%s", n, agents[i][1], gr[1], a)
					}
				}
			}
		}

		// Hand-offs: 1–5 per agent (when there are others), about 3 on average, no self
		// loops, no duplicates, every mode present on large estates.
		per := map[string]int{}
		modes := map[string]int{}
		seen := map[string]bool{}
		declared := map[string]bool{}
		for _, a := range agents {
			declared[a[1]] = true
			if !nameRE.MatchString(a[1]) {
				t.Errorf("bad agent name %q", a[1])
			}
		}
		hs := handoffLine.FindAllStringSubmatch(section(t, src, "handoffs"), -1)
		for _, h := range hs {
			if h[1] == h[2] || !declared[h[1]] || !declared[h[2]] || seen[h[1]+">"+h[2]] {
				t.Errorf("n=%d: bad hand-off %s", n, h[0])
			}
			seen[h[1]+">"+h[2]] = true
			per[h[1]]++
			modes[h[3]]++
		}
		if n == 1 && len(hs) != 0 {
			t.Errorf("n=1: %d hand-offs", len(hs))
		}
		if n > 1 {
			for _, a := range agents {
				if per[a[1]] < 1 || per[a[1]] > 5 {
					t.Errorf("n=%d: %s has %d hand-offs", n, a[1], per[a[1]])
				}
			}
		}
		if n >= 1000 {
			avg := float64(len(hs)) / float64(n)
			if avg < 2.5 || avg > 3.5 {
				t.Errorf("n=%d: %.2f hand-offs per agent, want about 3", n, avg)
			}
			if modes["attenuate"] == 0 || modes["delegate"] == 0 || modes["forward_credentials"] == 0 {
				t.Errorf("n=%d: modes %v", n, modes)
			}
		}
	}
}

// TestEstateFindings checks that a medium estate carries what each lint check looks for.
func TestEstateFindings(t *testing.T) {
	src := string(Estate(Options{Agents: 500, Seed: 3}))
	for _, want := range []string{
		`chains: false`,                    // AC050
		`@ignore("AC051")`,                 // AC053
		`kind: "static"`,                   // AC003
		`scope: "agent"`,                   // AC004
		`revoke_on_task_end: false`,        // AC004
		`auth: kind: "shared_token"`,       // AC005
		`auth: kind: "static_key"`,         // AC005
		`actions: ["*"]`,                   // AC010
		`resources: ["*"]`,                 // AC010
		`mode: "forward_credentials"`,      // AC030, AC031
		`mode: "delegate"`,                 // AC031
		`untrusted_input: true`,            // AC034
		`external: true`,                   // AC034
		`source: "mcp"`,                    // AC040
		`source: "third_party"`,            // AC040
		`autonomy: "autonomous"`,           // AC052
		`require: role: "release-manager"`, // AC021: the deploy rule has no timeout
		`require: role: "agent_001"`,       // AC022
		`threshold: {attribute: "amount", above: 1000}`,
	} {
		if !strings.Contains(src, want) {
			t.Errorf("estate lacks %s", want)
		}
	}
	// AC001 and AC051: some agents lack identity or owner.
	blocks := strings.Split(section(t, src, "agents"), "\n\t\"agent_")[1:]
	var noID, noOwner int
	for _, b := range blocks {
		if !strings.Contains(b, "spiffe_id") {
			noID++
		}
		if !strings.Contains(b, "owner:") {
			noOwner++
		}
	}
	if noID == 0 || noOwner == 0 {
		t.Errorf("every agent has identity (%d without) or owner (%d without)", noID, noOwner)
	}
	// AC002: some SPIFFE ID appears twice.
	ids := regexp.MustCompile(`spiffe_id: "([^"]+)"`).FindAllStringSubmatch(src, -1)
	count := map[string]int{}
	shared := false
	for _, id := range ids {
		count[id[1]]++
		shared = shared || count[id[1]] > 1
	}
	if !shared {
		t.Error("no shared SPIFFE ID")
	}
}

func TestWriteDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "estate")
	opts := Options{Agents: 20, Seed: 1}
	if err := WriteDir(dir, opts); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, Estate(opts)) {
		t.Fatal("WriteDir wrote other bytes than Estate returns")
	}
	if err := WriteDir(dir, Options{Agents: 0}); err == nil || !strings.Contains(err.Error(), "need at least 1 agent") {
		t.Fatalf("WriteDir with 0 agents: %v", err)
	}
}
