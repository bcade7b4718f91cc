package integration

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentctl/agentctl/internal/testtool"
)

var update = flag.Bool("update", false, "rewrite the output blocks of the documentation pages run by the tests")

// The tutorial's OPA address; the test swaps in a free port.
const tutorialAddr = "127.0.0.1:8181"

// block is a fenced code block of a docs page: a ```sh block is run, and a ```text
// block right after it holds the output it must print.
type block struct {
	lang       string
	body       string
	start, end int // line indexes of the body, end exclusive
}

func parseBlocks(lines []string) ([]block, error) {
	var blocks []block
	for i := 0; i < len(lines); i++ {
		lang, ok := strings.CutPrefix(lines[i], "```")
		if !ok || lang == "" {
			continue
		}
		j := i + 1
		for j < len(lines) && lines[j] != "```" {
			j++
		}
		if j == len(lines) {
			return nil, fmt.Errorf("line %d: unclosed code block", i+1)
		}
		body := strings.Join(lines[i+1:j], "\n")
		if j > i+1 {
			body += "\n"
		}
		blocks = append(blocks, block{lang: lang, body: body, start: i + 1, end: j})
		i = j
	}
	return blocks, nil
}

// TestTutorial runs every ```sh block of docs/tutorial.md in order, in one fresh directory,
// with agentctl and opa on PATH, and compares the output with the ```text block that follows
// it. Blocks run with `set -euo pipefail`: a command that fails unexpectedly fails the test.
// Rewrite the output blocks with: go test ./integration -run 'TestTutorial|TestDocExamples' -update
// The tutorial shows the bundle revision the reader gets, exactly.
func TestTutorial(t *testing.T) {
	runDoc(t, "tutorial.md", true, 10, true)
}

// TestDocExamples runs the worked examples of the reference pages the same way. A block
// whose info string is `LANG file=PATH` (```cue file=example/policy.cue) is written to PATH
// before the blocks after it run.
func TestDocExamples(t *testing.T) {
	for _, doc := range []string{"semantics.md", "policy.md", "import.md", "diff.md"} {
		t.Run(doc, func(t *testing.T) { runDoc(t, doc, false, 1, false) })
	}
}

// runDoc runs the ```sh blocks of docs/NAME; keepRevision compares bundle revisions too
// (else any sha256:... revision matches).
func runDoc(t *testing.T, name string, needOPA bool, minBlocks int, keepRevision bool) {
	if testing.Short() {
		t.Skip("builds agentctl; skipped with -short")
	}
	bash := testtool.Look(t, "bash")
	root := repoRoot(t)
	docPath := filepath.Join(root, "docs", name)
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(doc), "\n")
	blocks, err := parseBlocks(lines)
	if err != nil {
		t.Fatalf("docs/%s: %v", name, err)
	}

	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "agentctl"), "./cmd/agentctl")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build agentctl: %v\n%s", err, out)
	}
	if needOPA {
		testtool.Look(t, "curl")
		opa := testtool.Go(t, "github.com/open-policy-agent/opa")
		if err := os.Symlink(opa, filepath.Join(bin, "opa")); err != nil {
			t.Fatal(err)
		}
	}
	work := filepath.Join(tmp, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+tmp, "NO_COLOR=1")
	// Stop whatever a page started in the background (the OPA server), even when a block
	// failed half-way: each block runs in its own process group.
	var groups []int
	t.Cleanup(func() {
		for _, pgid := range groups {
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
		}
	})

	rewrite := map[int]string{} // text block start line -> new body
	ran := 0
	for i, b := range blocks {
		if lang, file, ok := strings.Cut(b.lang, " file="); ok && lang != "" {
			path := filepath.Join(work, filepath.FromSlash(file))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(b.body), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if b.lang != "sh" {
			continue
		}
		ran++
		script := strings.ReplaceAll(b.body, tutorialAddr, addr)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		cmd := exec.CommandContext(ctx, bash, "--noprofile", "--norc", "-c", "set -euo pipefail\n"+script)
		cmd.Dir, cmd.Env = work, env
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		// Background jobs must not hold the pipe open: the tutorial redirects their output.
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		if cmd.Process != nil {
			groups = append(groups, cmd.Process.Pid)
		}
		cancel()
		got := strings.ReplaceAll(string(out), addr, tutorialAddr)
		if err != nil {
			t.Fatalf("docs/%s:%d: %v\n%s\noutput:\n%s", name, b.start, err, b.body, got)
		}
		if i+1 < len(blocks) && blocks[i+1].lang == "text" && blank(lines[b.end+1:blocks[i+1].start-1]) {
			want := blocks[i+1]
			if *update {
				rewrite[want.start] = got
			} else if normalize(got, keepRevision) != normalize(want.body, keepRevision) {
				t.Errorf("docs/%s:%d: output differs (rerun with -update if the change is intended)\n%s\ngot:\n%s\nwant:\n%s",
					name, want.start, b.body, got, want.body)
			}
		}
	}
	if ran < minBlocks {
		t.Fatalf("only %d sh blocks in docs/%s, want at least %d", ran, name, minBlocks)
	}
	if *update && len(rewrite) > 0 {
		var out []string
		for i := 0; i < len(lines); i++ {
			body, ok := rewrite[i]
			if !ok {
				out = append(out, lines[i])
				continue
			}
			if body != "" {
				out = append(out, strings.Split(strings.TrimSuffix(body, "\n"), "\n")...)
			}
			for i < len(lines) && lines[i] != "```" {
				i++
			}
			out = append(out, "```")
		}
		if err := os.WriteFile(docPath, []byte(strings.Join(out, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// bundleRevision is the content hash compile prints; it changes with every edit of the
// embedded Rego library, which the reference pages need not follow (the tutorial does).
var bundleRevision = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// elapsed is the time at the end of check's verdict line.
var elapsed = regexp.MustCompile(`(?m)^((?:PASS|FAIL)  .*) · [0-9]+\.[0-9]{2}s$`)

func normalize(s string, keepRevision bool) string {
	if !keepRevision {
		s = bundleRevision.ReplaceAllString(s, "sha256:<revision>")
	}
	return elapsed.ReplaceAllString(s, "$1 · 0.00s")
}

func blank(lines []string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			return false
		}
	}
	return true
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
