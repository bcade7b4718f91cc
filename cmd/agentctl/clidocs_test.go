package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestCLIDocs keeps the CLI reference in docs/cli/ in step with the commands: one Markdown
// page per command, generated from cobra's Use, Short, Long, Example and flags. Regenerate
// with: go test ./cmd/agentctl -run TestCLIDocs -update
func TestCLIDocs(t *testing.T) {
	dir := filepath.Join("..", "..", "docs", "cli")
	want := cliDocs(t)
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		old, _ := filepath.Glob(filepath.Join(dir, "*.md"))
		for _, f := range old {
			if _, ok := want[filepath.Base(f)]; !ok {
				if err := os.Remove(f); err != nil {
					t.Fatal(err)
				}
			}
		}
		for name, b := range want {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	have, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	for _, f := range have {
		if _, ok := want[filepath.Base(f)]; !ok {
			t.Errorf("%s documents no command; rerun with -update", f)
		}
	}
	for name, b := range want {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("docs/cli/%s is missing; rerun with -update", name)
			continue
		}
		if !bytes.Equal(got, b) {
			t.Errorf("docs/cli/%s is stale; rerun with -update", name)
		}
	}
}

// cliDocs renders one page per available command, keyed by file name.
func cliDocs(t *testing.T) map[string][]byte {
	root := newRootCmd(io.Discard, io.Discard)
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpFlag()
	pages := map[string][]byte{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.InitDefaultHelpFlag()
		var b bytes.Buffer
		writeCommandDoc(&b, c)
		pages[docFile(c)] = b.Bytes()
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				walk(sub)
			}
		}
	}
	walk(root)
	if len(pages) < 2 {
		t.Fatalf("only %d command pages generated", len(pages))
	}
	return pages
}

func docFile(c *cobra.Command) string {
	return strings.ReplaceAll(c.CommandPath(), " ", "_") + ".md"
}

func writeCommandDoc(w *bytes.Buffer, c *cobra.Command) {
	fmt.Fprintf(w, "# %s\n\n", c.CommandPath())
	fmt.Fprintf(w, "%s\n\n", c.Short)
	fmt.Fprintf(w, "```\n%s\n```\n\n", c.UseLine())
	if c.Long != "" {
		fmt.Fprintf(w, "%s\n\n", strings.TrimSpace(c.Long))
	}
	if c.Example != "" {
		fmt.Fprintf(w, "## Examples\n\n```sh\n%s\n```\n\n", dedent(c.Example))
	}
	if fs := c.NonInheritedFlags(); fs.HasAvailableFlags() {
		fmt.Fprintf(w, "## Flags\n\n```\n%s```\n\n", fs.FlagUsagesWrapped(0))
	}
	if fs := c.InheritedFlags(); fs.HasAvailableFlags() {
		fmt.Fprintf(w, "## Flags inherited from parent commands\n\n```\n%s```\n\n", fs.FlagUsagesWrapped(0))
	}
	var subs []*cobra.Command
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() {
			subs = append(subs, sub)
		}
	}
	if len(subs) > 0 {
		fmt.Fprintf(w, "## Commands\n\n| command | what it does |\n|---|---|\n")
		for _, sub := range subs {
			fmt.Fprintf(w, "| [%s](%s) | %s |\n", sub.Name(), docFile(sub), sub.Short)
		}
		fmt.Fprintln(w)
	}
	if c.HasParent() {
		p := c.Parent()
		fmt.Fprintf(w, "See also: [%s](%s), %s\n", p.CommandPath(), docFile(p), p.Short)
	}
	// One trailing newline, whatever the sections were.
	trimmed := bytes.TrimRight(w.Bytes(), "\n")
	w.Truncate(len(trimmed))
	w.WriteByte('\n')
}

// dedent removes the common two-space indent cobra examples use.
func dedent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if slices.IndexFunc(lines, func(l string) bool { return l != "" && !strings.HasPrefix(l, "  ") }) >= 0 {
		return strings.Join(lines, "\n")
	}
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "  ")
	}
	return strings.Join(lines, "\n")
}
