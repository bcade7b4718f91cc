package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// pinRE finds the refs the documentation tells users to pin: the action
// (uses: agentctl/agentctl@REF), go install (cmd/agentctl@REF) and the pre-commit hooks
// (rev: REF after repo: https://github.com/agentctl/agentctl).
var pinRE = regexp.MustCompile(`(?:agentctl/agentctl@|cmd/agentctl@|repo: https://github\.com/agentctl/agentctl\s+rev: )([^\s"'` + "`" + `#]+)`)

// commitRE is a full commit SHA.
var commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// TestDocPins keeps the code blocks of README.md and docs/*.md from pinning releases that do
// not exist: a pinned ref (outside comments) is the default branch (main, or latest for go install) or a tag of this repository
// (docs/releasing.md says when the first one is cut and how the pins follow).
func TestDocPins(t *testing.T) {
	root := repoRoot(t)
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages = append([]string{filepath.Join(root, "README.md")}, pages...)
	var tags []string
	if out, err := exec.Command("git", "-C", root, "tag", "--list").Output(); err == nil {
		tags = strings.Fields(string(out))
	}
	pins := 0
	for _, page := range pages {
		src, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, page)
		blocks, err := parseBlocks(strings.Split(string(src), "\n"))
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		for _, b := range blocks {
			// What users copy: the block's lines without their comments.
			lines := strings.Split(b.body, "\n")
			for i, l := range lines {
				if j := strings.Index(l, "#"); j == 0 || j > 0 && l[j-1] == ' ' {
					lines[i] = l[:j]
				}
			}
			code := strings.Join(lines, "\n")
			for _, m := range pinRE.FindAllStringSubmatchIndex(code, -1) {
				pins++
				ref := code[m[2]:m[3]]
				line := b.start + 1 + strings.Count(code[:m[2]], "\n")
				if ref == "main" || ref == "latest" || commitRE.MatchString(ref) || slices.Contains(tags, ref) {
					continue
				}
				t.Errorf("%s:%d: pins %q, which is neither main, latest, a commit nor a tag of this repository (tags: %v)", rel, line, ref, tags)
			}
		}
	}
	if pins < 4 {
		t.Errorf("found %d pins in the documentation, want the action, go install and pre-commit recipes of docs/ci.md and docs/diff.md", pins)
	}
}
