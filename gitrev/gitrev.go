// Package gitrev reads policy directories as they were at a git revision, with the git the
// user already has (git rev-parse and git archive; nothing touches the network, the index or
// the work tree). `agentctl diff --base REF` and `agentctl replay --base REF` load the
// directories it extracts.
package gitrev

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Snapshot holds directories extracted at one revision into a temporary directory. Close
// removes it.
type Snapshot struct {
	Rev    string // the revision as the user wrote it
	Commit string // the commit it names, full hash
	root   string
	dirs   map[string]string // the directory as given -> its copy under root
}

// Extract copies the .cue files of each directory (paths as on the command line, inside a git
// work tree) as they are in revision rev into a temporary directory. Every directory must
// lie in one repository. A directory that did not exist at rev, or held no .cue file there
// (the commit that adds a policy), is absent from the snapshot: Dir returns "" for it and
// Absent says why.
func Extract(ctx context.Context, rev string, dirs []string) (*Snapshot, error) {
	if rev == "" || strings.HasPrefix(rev, "-") {
		return nil, fmt.Errorf("bad revision %q", rev)
	}
	if len(dirs) == 0 {
		return nil, errors.New("no directories to extract")
	}
	top, err := git(ctx, existing(dirs[0]), "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("%s: not in a git work tree: %w", dirs[0], err)
	}
	top = strings.TrimSpace(top)
	commit, err := git(ctx, top, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil {
		if rev == "HEAD" && unborn(ctx, top) {
			// The first commit of a repository (a pre-commit hook before it): HEAD has no
			// commit yet, so every directory is absent at it.
			s := &Snapshot{Rev: rev, dirs: map[string]string{}}
			for _, dir := range dirs {
				s.dirs[dir] = ""
			}
			return s, nil
		}
		return nil, fmt.Errorf("revision %q: not a commit in %s", rev, top)
	}
	root, err := os.MkdirTemp("", "agentctl-rev-")
	if err != nil {
		return nil, fmt.Errorf("extract %s: %w", rev, err)
	}
	s := &Snapshot{Rev: rev, Commit: strings.TrimSpace(commit), root: root, dirs: map[string]string{}}
	for _, dir := range dirs {
		if err := s.extract(ctx, top, dir); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// extract writes dir's .cue files at the snapshot's commit under root, at the same path
// relative to the repository root as in the work tree.
func (s *Snapshot) extract(ctx context.Context, top, dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	// Resolve symbolic links on both sides so that the relative path is the repository's
	// (through the nearest existing ancestor, for a directory deleted since rev).
	base := existing(abs)
	if r, err := filepath.EvalSymlinks(base); err == nil {
		rest, _ := filepath.Rel(base, abs)
		abs = filepath.Join(r, rest)
	}
	realTop := top
	if r, err := filepath.EvalSymlinks(top); err == nil {
		realTop = r
	}
	rel, err := filepath.Rel(realTop, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("%s: not inside the repository %s", dir, top)
	}
	rel = filepath.ToSlash(rel)
	// :(glob) makes * stop at a slash: the policy's own files, not those of subdirectories.
	spec := ":(glob)*.cue"
	if rel != "." {
		spec = ":(glob)" + rel + "/*.cue"
	}
	out, err := gitBytes(ctx, top, "archive", "--format=tar", s.Commit, "--", spec)
	if err != nil {
		if strings.Contains(err.Error(), "did not match any files") {
			s.dirs[dir] = ""
			return nil
		}
		return fmt.Errorf("%s at %s: %w", dir, s.Rev, err)
	}
	dest := filepath.Join(s.root, filepath.FromSlash(rel))
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("extract %s: %w", dir, err)
	}
	if err := untar(bytes.NewReader(out), s.root); err != nil {
		return fmt.Errorf("extract %s at %s: %w", dir, s.Rev, err)
	}
	s.dirs[dir] = dest
	return nil
}

// Dir returns where dir (as given to Extract) was extracted, or "" when it held no .cue file
// at the revision.
func (s *Snapshot) Dir(dir string) string { return s.dirs[dir] }

// Absent returns, for a directory that held no .cue file at the revision, an error saying
// so; nil for one that was extracted.
func (s *Snapshot) Absent(dir string) error {
	if d, ok := s.dirs[dir]; !ok || d != "" {
		return nil
	}
	if s.Commit == "" {
		return fmt.Errorf("%s: no .cue files at %s (no commit yet)", dir, s.Rev)
	}
	return fmt.Errorf("%s: no .cue files at %s (%s)", dir, s.Rev, short(s.Commit))
}

// Close removes the extracted files.
func (s *Snapshot) Close() error {
	if s.root == "" {
		return nil
	}
	return os.RemoveAll(s.root)
}

// unborn reports whether the repository's current branch has no commit yet.
func unborn(ctx context.Context, top string) bool {
	_, errHead := git(ctx, top, "rev-parse", "--verify", "--quiet", "HEAD")
	_, errRef := git(ctx, top, "symbolic-ref", "--quiet", "HEAD")
	return errHead != nil && errRef == nil
}

// untar writes the regular files of a tar stream under root. Names are repository paths that
// git wrote; any that would leave root is refused all the same.
func untar(r io.Reader, root string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue // directories are made as needed; links and git's pax header are skipped
		}
		name := filepath.Clean(filepath.FromSlash(h.Name))
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) {
			return fmt.Errorf("archive entry %q leaves the directory", h.Name)
		}
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
}

// existing returns dir or its nearest ancestor that exists: a directory deleted from the work
// tree can still be read at a revision.
func existing(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	for {
		if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
			return abs
		}
		parent := filepath.Dir(abs)
		if parent == abs {
			return abs
		}
		abs = parent
	}
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	out, err := gitBytes(ctx, dir, args...)
	return string(out), err
}

// gitBytes runs git in dir and returns its standard output; a failure carries git's message.
func gitBytes(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	// The user's configuration applies, but never a pager or a prompt.
	cmd.Env = append(os.Environ(), "GIT_PAGER=cat", "GIT_TERMINAL_PROMPT=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, errors.New("git is not installed (--base needs it)")
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, errors.New(strings.TrimPrefix(msg, "fatal: "))
	}
	return out, nil
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}
