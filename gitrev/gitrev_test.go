package gitrev

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// repo makes a git repository with a policy directory p (and a subdirectory whose .cue
// file must not be extracted), commits it as the first commit, then edits the work tree.
func repo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	write := func(name, text string) {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write("p/policy.cue", "package p\nold: 1\n")
	write("p/README.md", "not a policy file\n")
	write("p/sub/other.cue", "package sub\n")
	run("init", "-q", "-b", "main")
	run("add", ".")
	run("commit", "-q", "-m", "first")
	write("p/policy.cue", "package p\nnew: 2\n")
	write("p/added.cue", "package p\n")
	return dir
}

func TestExtract(t *testing.T) {
	dir := repo(t)
	t.Chdir(dir)
	s, err := Extract(context.Background(), "HEAD", []string{"p"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Commit) != 40 {
		t.Errorf("Commit = %q, want a full hash", s.Commit)
	}
	got := s.Dir("p")
	if filepath.Base(got) != "p" {
		t.Errorf("Dir(p) = %q, want a directory named p", got)
	}
	entries, err := os.ReadDir(got)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "policy.cue" {
		t.Errorf("extracted %v, want only policy.cue (no sub-directory, no other files, nothing uncommitted)", names)
	}
	data, err := os.ReadFile(filepath.Join(got, "policy.cue"))
	if err != nil || string(data) != "package p\nold: 1\n" {
		t.Errorf("policy.cue at HEAD = %q, %v", data, err)
	}
	root := s.root
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("Close left %s", root)
	}
}

// TestExtractAbsent: a directory with no .cue file at the revision (the commit that adds
// the policy) is absent from the snapshot, not an error.
func TestExtractAbsent(t *testing.T) {
	dir := repo(t)
	t.Chdir(dir)
	if err := os.MkdirAll("q", 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Extract(context.Background(), "HEAD", []string{"p", "q", "p/sub/none"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Dir("p") == "" || s.Absent("p") != nil {
		t.Errorf("p: Dir %q, Absent %v; want it extracted", s.Dir("p"), s.Absent("p"))
	}
	for _, d := range []string{"q", "p/sub/none"} {
		if s.Dir(d) != "" {
			t.Errorf("Dir(%s) = %q, want \"\" (absent at HEAD)", d, s.Dir(d))
		}
		if err := s.Absent(d); err == nil || !strings.HasPrefix(err.Error(), d+": no .cue files at HEAD (") {
			t.Errorf("Absent(%s) = %v", d, err)
		}
	}
}

func TestExtractErrors(t *testing.T) {
	dir := repo(t)
	t.Chdir(dir)
	ctx := context.Background()
	for _, tc := range []struct {
		rev  string
		dirs []string
		want string
	}{
		{"nosuchrev", []string{"p"}, `revision "nosuchrev": not a commit in `},
		{"--output=x", []string{"p"}, `bad revision "--output=x"`},
		{"HEAD", []string{os.TempDir()}, "not in a git work tree"},
	} {
		_, err := Extract(ctx, tc.rev, tc.dirs)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Extract(%q, %v) = %v, want an error containing %q", tc.rev, tc.dirs, err, tc.want)
		}
	}
}

// TestExtractUnborn: before a repository's first commit, every directory is absent at HEAD
// (a pre-commit hook on the first commit); any other revision is still an error.
func TestExtractUnborn(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	cmd := exec.Command("git", "init", "-q", "-b", "main")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	if err := os.MkdirAll(filepath.Join(dir, "p"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	s, err := Extract(context.Background(), "HEAD", []string{"p"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Absent("p"); err == nil || err.Error() != "p: no .cue files at HEAD (no commit yet)" {
		t.Errorf("Absent(p) = %v", err)
	}
	if _, err := Extract(context.Background(), "main~1", []string{"p"}); err == nil {
		t.Error("main~1 in an empty repository: no error")
	}
}
