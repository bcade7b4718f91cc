// Package integration runs agentctl inside the tools users run it from (pre-commit, the
// tutorial's shell session), with the real programs.
package integration

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentctl/agentctl/internal/testtool"
)

// TestPreCommitHooks installs this repository's .pre-commit-hooks.yaml into a fresh policy
// repository the way a user does, with the hooks' default arguments (./...), and runs the
// real pre-commit on it as docs/ci.md walks it: the first commit adds the policy
// directories (agentctl-diff compares them with the empty policy: there is no HEAD yet),
// the second makes a risky change in a nested directory, which agentctl-check and
// agentctl-diff fail on; agentctl-lint, the alternative to agentctl-check, fails alone.
//
// pre-commit clones hook repositories with git, so the current working tree (including
// uncommitted files) is copied into a temporary git repository first. language: golang
// then builds agentctl with the local Go toolchain, sharing the module and build caches.
func TestPreCommitHooks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds agentctl through pre-commit; skipped with -short")
	}
	gitBin := testtool.Look(t, "git")
	preCommit := testtool.Look(t, "pre-commit")
	root := repoRoot(t)
	tmp := t.TempDir()
	env := append(os.Environ(),
		"PRE_COMMIT_HOME="+filepath.Join(tmp, "pre-commit-home"),
		"GOMODCACHE="+goEnv(t, "GOMODCACHE"), // pre-commit sets GOPATH to its own directory
		"GOCACHE="+goEnv(t, "GOCACHE"),
		"GOFLAGS=-mod=mod",
		"GIT_AUTHOR_NAME=agentctl test", "GIT_AUTHOR_EMAIL=test@agentctl.invalid",
		"GIT_COMMITTER_NAME=agentctl test", "GIT_COMMITTER_EMAIL=test@agentctl.invalid",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
	)
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command(gitBin, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}

	hooks := filepath.Join(tmp, "agentctl")
	copyTree(t, gitBin, root, hooks)
	git(hooks, "init", "-q")
	git(hooks, "add", "-A")
	git(hooks, "commit", "-q", "-m", "agentctl working tree")
	rev := git(hooks, "rev-parse", "HEAD")

	repo := filepath.Join(tmp, "policies")
	config := func(ids ...string) string {
		c := "repos:\n  - repo: " + hooks + "\n    rev: " + rev + "\n    hooks:\n"
		for _, id := range ids {
			c += "      - id: " + id + "\n"
		}
		return c
	}
	writeFile(t, filepath.Join(repo, ".pre-commit-config.yaml"), config("agentctl-check", "agentctl-fmt", "agentctl-diff"))
	writeFile(t, filepath.Join(repo, ".pre-commit-lint.yaml"), config("agentctl-lint"))
	writeAdoptionPolicies(t, root, repo)
	git(repo, "init", "-q")
	git(repo, "add", "-A")

	runPreCommit := func(config string) (string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, preCommit, "run", "--all-files", "--color", "never", "-c", config)
		cmd.Dir, cmd.Env = repo, env
		start := time.Now()
		out, err := cmd.CombinedOutput()
		t.Logf("pre-commit run took %s", time.Since(start).Round(time.Millisecond))
		if ctx.Err() != nil {
			t.Fatalf("pre-commit timed out:\n%s", out)
		}
		return string(out), exitCode(t, err)
	}

	// The first commit: no HEAD yet, every hook passes on the new policies.
	out, code := runPreCommit(".pre-commit-config.yaml")
	if code != 0 || !hookPassed(out, "agentctl check") || !hookPassed(out, "agentctl fmt") || !hookPassed(out, "agentctl diff") {
		t.Fatalf("first commit: pre-commit exited %d, want 0 with every hook passed:\n%s", code, out)
	}
	out, code = runPreCommit(".pre-commit-lint.yaml")
	if code != 0 || !hookPassed(out, "agentctl lint") {
		t.Fatalf("first commit, lint hook: pre-commit exited %d, want 0:\n%s", code, out)
	}
	git(repo, "commit", "-q", "-m", "policies")

	// The second: a delegating hand-off in the nested directory, staged.
	opsFile := filepath.Join(repo, "policies", "teams", "ops", "policy.cue")
	b, err := os.ReadFile(opsFile)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, opsFile, string(b)+"handoffs: [{from: \"reader\", to: \"deployer\", mode: \"delegate\"}]\n")
	git(repo, "add", "-A")
	out, code = runPreCommit(".pre-commit-config.yaml")
	if code != 1 || !hookFailed(out, "agentctl check") || !hookPassed(out, "agentctl fmt") || !hookFailed(out, "agentctl diff") {
		t.Fatalf("risky change: pre-commit exited %d, want 1 with check and diff failed:\n%s", code, out)
	}
	for _, want := range []string{"policies/teams/ops/policy.cue", "AC031", "FAIL  lint: ",
		"+ reader ⇒ deploy.release via reader -delegate-> deployer  [escalation", "gate: FAILED — new-escalation: "} {
		if !strings.Contains(out, want) {
			t.Errorf("pre-commit output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "| AC031 |"); n != 1 {
		t.Errorf("the AC031 finding is listed %d times, want once (agentctl-check only):\n%s", n, out)
	}
	out, code = runPreCommit(".pre-commit-lint.yaml")
	if code != 1 || !hookFailed(out, "agentctl lint") || !strings.Contains(out, "AC031") {
		t.Fatalf("risky change, lint hook: pre-commit exited %d, want 1 naming AC031:\n%s", code, out)
	}
}

// hookPassed matches pre-commit's "name.....Passed" status line.
func hookPassed(out, name string) bool { return hookStatus(out, name) == "Passed" }
func hookFailed(out, name string) bool { return hookStatus(out, name) == "Failed" }

func hookStatus(out, name string) string {
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, name); ok && strings.HasPrefix(rest, ".") {
			return strings.TrimLeft(rest, ".")
		}
	}
	return ""
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root: %v", err)
	}
	return root
}

func goEnv(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", key, err)
	}
	return strings.TrimSpace(string(out))
}

// copyTree copies the files git would see in src (tracked, plus untracked files not
// ignored: the working tree as it is now) to dst.
func copyTree(t *testing.T, gitBin, src, dst string) {
	t.Helper()
	cmd := exec.Command(gitBin, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = src
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files in %s: %v", src, err)
	}
	for _, rel := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		b, err := os.ReadFile(filepath.Join(src, rel))
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted in the working tree, not yet in the index
			}
			t.Fatal(err)
		}
		path := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// copyFiles copies the files of src ending in ext (one level) into dst.
func copyFiles(t *testing.T, src, dst, ext string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != src {
			return filepath.SkipDir
		}
		if d.IsDir() || filepath.Ext(path) != ext {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, d.Name()), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
