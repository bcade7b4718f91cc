package schema

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzLoad feeds the bytes of one .cue file to Load: it must never panic, and every error it
// returns must name a line and column of that file, speak the policy language (no Go types,
// no "internal error") and carry no raw control character. Seeds: every file of the bad-input
// corpus, the test policies and the example estates.
//
//	go test ./schema -run '^$' -fuzz FuzzLoad -fuzztime 60s
func FuzzLoad(f *testing.F) {
	var seeds []string
	for _, pattern := range []string{"../cmd/agentctl/testdata/bad/*/*.cue", "testdata/*/*.cue", "../scenarios/*/*.cue"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, m...)
	}
	if len(seeds) < 30 {
		f.Fatalf("only %d seed files", len(seeds))
	}
	for _, s := range seeds {
		src, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	// CUE the corpus does not exercise: references, cycles, comprehensions, patterns,
	// constraints, imports, bytes, escapes in keys.
	for _, src := range []string{
		"_x: _x & {a: _x}",
		"a: {b: a}",
		"#D: {a: int}\nx: #D & {a: \"s\"}",
		"{for i in [1, 2] {agents: \"A\\(i)\": grants: []}}",
		"agents: [=~\"^a\"]: {owner: 5}\nagents: ab: grants: []",
		"import \"strings\"\nagents: a: {grants: [], owner: strings.Repeat(\"x\", -1)}",
		"agents: a: {grants: [], owner: 'bytes'}",
		"agents: a: {grants: [], session: {max_actions: 1e3, max_duration: \"0.5ns\"}}",
		"tests: \"t\\u0000\\n\\u202e\": {input: {a: [1e400, {b: null}]}, expect: outcome: \"allow\"}",
		"approvals: r: {threshold: {attribute: \"a\", above: >1}, require: {role: \"x\", approvers: *2 | int}}",
		"let x = 5\nsettings: max_chain_depth: x * 4",
	} {
		f.Add([]byte("package policy\n" + src + "\n"))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		dir := t.TempDir()
		file := filepath.Join(dir, "policy.cue")
		if err := os.WriteFile(file, src, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		if err == nil {
			return
		}
		var errs Errors
		if !errors.As(err, &errs) {
			t.Fatalf("Load returned %T, not Errors: %v", err, err)
		}
		lines := strings.Count(string(src), "\n") + 1
		for _, e := range errs {
			if e.Pos.File != file || e.Pos.Line < 1 || e.Pos.Line > lines || e.Pos.Col < 1 {
				t.Errorf("error without a position in the file: %q", e.Error())
			}
			if badMessage(e.Error()) {
				t.Errorf("error leaks the implementation or raw control text: %q", e.Error())
			}
		}
	})
}

// badMessage reports a load error message no user should see: an internal error, Go's
// type names, or a raw control character.
func badMessage(m string) bool {
	for _, leak := range []string{"internal error", "Go struct", "Go value", "json: cannot"} {
		if strings.Contains(m, leak) {
			return true
		}
	}
	return strings.ContainsFunc(m, func(r rune) bool { return r != ' ' && !strconv.IsPrint(r) })
}
