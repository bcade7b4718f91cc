package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/agentctl/agentctl/diff"
	"github.com/agentctl/agentctl/internal/gen"
	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/report"
)

// TestDiffDerivedBase checks that `agentctl diff`, which derives the base version from head
// where they share text and compares only what may differ, writes exactly the JSON of a diff
// of two full loads compared element by element, for edits of each kind.
func TestDiffDerivedBase(t *testing.T) {
	head := string(gen.Estate(gen.Options{Agents: 150, Seed: 5}))
	first := func(re, repl string) func(string) string {
		return func(s string) string {
			done := false
			return regexp.MustCompile(re).ReplaceAllStringFunc(s, func(m string) string {
				if done {
					return m
				}
				done = true
				return regexp.MustCompile(re).ReplaceAllString(m, repl)
			})
		}
	}
	for name, edit := range map[string]func(string) string{
		"handoff-mode":    first(`(\{from: "agent_020", to: "[^"]+", mode: )"[a-z_]+"`, `$1"forward_credentials"`),
		"handoff-removed": first(`\t\{from: "agent_030"[^\n]*\n`, ""),
		"grant":           first(`(?s)("agent_040": \{.*?grants: \[)`, `$1{tool: "tool_01", actions: ["*"]}, `),
		"untrusted":       first(`(?s)("agent_050": \{\n)`, "$1\t\tuntrusted_input: true\n"),
		"tool-action":     first(`(?s)("tool_02": \{.*?"deploy": \{effect: )"deploy"`, `$1"payment"`),
		"approval":        first(`approvers: \d+`, `approvers: 9`),
		"depth":           first(`max_chain_depth: \d+`, `max_chain_depth: 2`),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			base := edit(head)
			if base == head {
				t.Fatal("the edit changed nothing")
			}
			for side, text := range map[string]string{"base": base, "head": head} {
				if err := os.MkdirAll(filepath.Join(dir, side), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, side, gen.FileName), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			t.Chdir(dir)
			var got, stderr bytes.Buffer
			if code := run([]string{"diff", "--fail-on", "none", "-o", "json", "base", "head"}, &got, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			res, err := diff.Run(testtool.Load(t, "base"), testtool.Load(t, "head"), diff.Options{MaxDecisions: diff.DefaultMaxDecisions})
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			if err := report.DiffJSON(&want, []*diff.Result{res}); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Fatalf("derived diff differs from the full one:\n%s", firstDifference(got.String(), want.String()))
			}
			if !strings.Contains(got.String(), `"op": "changed"`) && !strings.Contains(got.String(), `"op": "removed"`) && !strings.Contains(got.String(), `"op": "added"`) {
				t.Fatalf("no structural change reported:\n%s", got.String())
			}
		})
	}
}

func firstDifference(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + la[i] + "\nwant: " + lb[i]
		}
	}
	return "lengths differ"
}
