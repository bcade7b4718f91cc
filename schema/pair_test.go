package schema

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/agentctl/agentctl/internal/gen"
)

// TestLoadPair checks that the base LoadPair derives from head is exactly what Load gives for
// base (positions, ignores and hand-off indices included), for edits of every kind a pull
// request makes to a generated estate, and that it derives base where it should.
func TestLoadPair(t *testing.T) {
	headSrc := string(gen.Estate(gen.Options{Agents: 200, Seed: 3}))
	nth := func(re string, n int, repl func(string) string) func(string) string {
		return func(s string) string {
			i := 0
			return regexp.MustCompile(re).ReplaceAllStringFunc(s, func(m string) string {
				i++
				if i == n || (n == 0 && i%100 == 0) {
					return repl(m)
				}
				return m
			})
		}
	}
	handoff := `\t\{from: "[^"]+", to: "[^"]+", mode: "[a-z_]+"\},\n`
	for _, tc := range []struct {
		name   string
		edit   func(string) string
		shared bool
	}{
		{"same", func(s string) string { return s }, true},
		{"handoff-mode", nth(`mode: "attenuate"`, 7, func(string) string { return `mode: "delegate"` }), true},
		{"handoff-removed", nth(handoff, 40, func(string) string { return "" }), true},
		{"handoff-added", nth(handoff, 40, func(m string) string {
			return m + "\t{from: \"agent_001\", to: \"agent_002\", mode: \"forward_credentials\"},\n"
		}), true},
		{"handoffs-1pct", nth(`mode: "attenuate"`, 0, func(string) string { return `mode: "delegate"` }), true},
		{"grant", nth(`jit: true`, 5, func(string) string { return `jit: false` }), true},
		{"comment-lines", nth(`\n\t"agent_010": \{`, 1, func(m string) string { return "\n\t// reviewed\n\t// twice" + m }), true},
		{"ignore", nth(`\n\t"agent_012": \{\n`, 1, func(m string) string { return m + "\t\t@ignore(\"AC051\", \"owned by the platform team\")\n" }), true},
		{"agent-added", nth(`\n\t"agent_050": \{\n`, 1, func(m string) string {
			return "\n\t\"zz-new\": {owner: \"t\", grants: [{tool: \"tool_001\", actions: [\"*\"]}]}" + m
		}), true},
		{"agent-removed-unreferenced", func(s string) string {
			s = regexp.MustCompile(`\t\{from: "agent_200"[^\n]*\n|\t\{from: "[^"]+", to: "agent_200"[^\n]*\n`).ReplaceAllString(s, "")
			return regexp.MustCompile(`(?s)\n\t"agent_200": \{.*?\n\t\}`).ReplaceAllString(s, "")
		}, false},
		{"settings", nth(`max_chain_depth: \d+`, 1, func(string) string { return "max_chain_depth: 2" }), false},
		{"two-places", func(s string) string {
			s = nth(`mode: "attenuate"`, 3, func(string) string { return `mode: "delegate"` })(s)
			return nth(`jit: true`, 2, func(string) string { return `jit: false` })(s)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			baseSrc := tc.edit(headSrc)
			if tc.name != "same" && baseSrc == headSrc {
				t.Fatal("the edit changed nothing")
			}
			write(t, filepath.Join(dir, "base", gen.FileName), baseSrc)
			write(t, filepath.Join(dir, "head", gen.FileName), headSrc)
			t.Chdir(dir)
			base, head, changed, err := LoadPair("base", "head")
			if err != nil {
				t.Fatal(err)
			}
			if (changed != nil) != tc.shared {
				t.Errorf("derived = %v, want %v", changed != nil, tc.shared)
			}
			wantBase, err := Load("base")
			if err != nil {
				t.Fatal(err)
			}
			wantHead, err := Load("head")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(head, wantHead) {
				t.Errorf("head differs from Load's")
			}
			if !reflect.DeepEqual(base, wantBase) {
				for path, pos := range wantBase.Positions {
					if got, ok := base.Positions[path]; !ok || got != pos {
						t.Errorf("position of %s = %v (%v), want %v", path, got, ok, pos)
						break
					}
				}
				if len(base.Positions) != len(wantBase.Positions) {
					t.Errorf("%d positions, want %d", len(base.Positions), len(wantBase.Positions))
				}
				if !reflect.DeepEqual(base.Ignores, wantBase.Ignores) {
					t.Errorf("ignores differ")
				}
				if !reflect.DeepEqual(base.Handoffs, wantBase.Handoffs) {
					t.Errorf("hand-offs differ")
				}
				t.Fatalf("base differs from Load's")
			}
		})
	}
}

// TestLoadPairSchemaCopy: the schema copy agentctl init writes is skipped on both sides, so
// base is still derived from head, and equals Load's.
func TestLoadPairSchemaCopy(t *testing.T) {
	headSrc := string(gen.Estate(gen.Options{Agents: 30, Seed: 2}))
	baseSrc := strings.Replace(headSrc, `jit: true`, `jit: false`, 1)
	dir := t.TempDir()
	for side, src := range map[string]string{"base": baseSrc, "head": headSrc} {
		write(t, filepath.Join(dir, side, gen.FileName), src)
		if _, err := WriteCopy(filepath.Join(dir, side)); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	base, _, changed, err := LoadPair("base", "head")
	if err != nil {
		t.Fatal(err)
	}
	if changed == nil || changed.Container != "agents" {
		t.Fatalf("changed = %+v, want base derived from head with agents changed", changed)
	}
	want, err := Load("base")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(base, want) {
		t.Errorf("derived base differs from Load's")
	}
}

// TestLoadPairErrors checks that load errors are Load's own, for either version.
func TestLoadPairErrors(t *testing.T) {
	src := string(gen.Estate(gen.Options{Agents: 30, Seed: 1}))
	bad := strings.Replace(src, `mode: "attenuate"`, `mode: "attenuate", to2: 1`, 1)
	for _, tc := range []struct{ base, head string }{{bad, src}, {src, bad}, {bad, bad}} {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "base", gen.FileName), tc.base)
		write(t, filepath.Join(dir, "head", gen.FileName), tc.head)
		t.Chdir(dir)
		_, _, _, err := LoadPair("base", "head")
		var pe PairErrors
		if !errors.As(err, &pe) {
			t.Fatalf("LoadPair error %v, want PairErrors", err)
		}
		for _, side := range []struct {
			dir  string
			got  Errors
			text string
		}{{"base", pe.Base, tc.base}, {"head", pe.Head, tc.head}} {
			_, want := Load(side.dir)
			if (want == nil) != (len(side.got) == 0) || want != nil && want.Error() != side.got.Error() {
				t.Errorf("%s errors: %v, want Load's %v", side.dir, side.got, want)
			}
		}
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoadPairAbsentBase: an absent base ("") is the empty policy, with head loaded as Load
// loads it; head's load errors are reported as head's.
func TestLoadPairAbsentBase(t *testing.T) {
	dir := t.TempDir()
	src := string(gen.Estate(gen.Options{Agents: 5, Seed: 1}))
	write(t, filepath.Join(dir, "head", gen.FileName), src)
	t.Chdir(dir)
	base, head, changed, err := LoadPair("", "head")
	if err != nil {
		t.Fatal(err)
	}
	if changed != nil {
		t.Errorf("changed = %+v, want nil (base was not derived)", changed)
	}
	if len(base.Agents)+len(base.Tools)+len(base.Handoffs)+len(base.Approvals)+len(base.Scenarios)+len(base.Tests) != 0 {
		t.Errorf("base is not empty: %d agents, %d tools", len(base.Agents), len(base.Tools))
	}
	if base.Settings.MaxChainDepth != 3 || !base.Settings.Audit.ToolCalls {
		t.Errorf("base settings %+v, want the schema's defaults", base.Settings)
	}
	want, err := Load("head")
	if err != nil {
		t.Fatal(err)
	}
	if len(head.Agents) != len(want.Agents) || len(head.Agents) != 5 {
		t.Errorf("head has %d agents, Load gives %d", len(head.Agents), len(want.Agents))
	}
	write(t, filepath.Join(dir, "head", gen.FileName), src+"\nagents: 1\n")
	_, _, _, err = LoadPair("", "head")
	var pe PairErrors
	if !errors.As(err, &pe) || len(pe.Base) != 0 || len(pe.Head) == 0 {
		t.Errorf("LoadPair of a bad head: %v, want head's errors only", err)
	}
}
