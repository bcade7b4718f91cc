package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentctl/agentctl/internal/infile"
)

// CheckPaths refuses the files the configuration names (baselines, output files) that lie
// outside the repository, once symbolic links are resolved, or that exist and are not
// regular files: a pull request controls the file, and must not make the gate read a
// device or a named pipe, or write outside the checkout. root is the repository root
// (--root); "" means the git top-level holding the file, else the file's directory.
func (f *File) CheckPaths(root string) error {
	if root == "" {
		if root = RepoRoot(f.Dir()); root == "" {
			root = f.Dir()
		}
	}
	realRoot, err := realPath(root)
	if err != nil {
		return fmt.Errorf("repository root %s: %w", root, err)
	}
	var errs Errors
	check := func(key, path string) {
		if msg := f.pathProblem(realRoot, path); msg != "" {
			errs = append(errs, f.errorAt(key, msg))
		}
	}
	baseline := func(prefix string, s rawSettings) {
		if s.Baseline != nil && *s.Baseline != "" {
			check(prefix+"baseline", *s.Baseline)
		}
	}
	baseline("", f.raw.rawSettings)
	for i, o := range f.raw.Overrides {
		baseline(fmt.Sprintf("overrides[%d].", i), o.rawSettings)
	}
	for i, o := range f.raw.Output {
		if _, path, ok := strings.Cut(o, "="); ok && path != "-" && path != "/dev/stdout" {
			check(fmt.Sprintf("output[%d]", i), path)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	sortErrors(errs)
	return errs
}

// pathProblem says what is wrong with a path the file names (relative to its directory),
// or "".
func (f *File) pathProblem(realRoot, written string) string {
	path := written
	if !filepath.IsAbs(path) {
		path = filepath.Join(f.Dir(), path)
	}
	real, err := realPath(path)
	if err != nil {
		return fmt.Sprintf("%q: %v", written, err)
	}
	shown := fmt.Sprintf("%q", written)
	if abs, err := filepath.Abs(path); err != nil || abs != real {
		shown += " (" + real + ")"
	}
	if rel, err := filepath.Rel(realRoot, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Sprintf("%s is outside the repository %s: files named in %s stay inside it", shown, realRoot, FileName)
	}
	if fi, err := os.Stat(real); err == nil && !fi.Mode().IsRegular() {
		return fmt.Sprintf("%s is %s, not a regular file", shown, infile.Kind(fi.Mode()))
	}
	return ""
}

// maxLinks bounds symbolic link chains, as the kernel does (ELOOP).
const maxLinks = 40

// realPath returns the absolute path p names with every symbolic link resolved, including
// a last one whose target does not exist yet (writing there would create the target).
// Components that do not exist are kept as written.
func realPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	vol := filepath.VolumeName(abs)
	sep := string(filepath.Separator)
	done := vol + sep
	todo := strings.Split(strings.TrimPrefix(abs[len(vol):], sep), sep)
	links := 0
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			done = filepath.Dir(done)
			continue
		}
		next := filepath.Join(done, name)
		fi, err := os.Lstat(next)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return "", err
			}
			done = next
			continue
		}
		if links++; links > maxLinks {
			return "", fmt.Errorf("%s: too many levels of symbolic links", p)
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(target) {
			tvol := filepath.VolumeName(target)
			done, target = tvol+sep, target[len(tvol):]
		}
		todo = append(strings.Split(target, sep), todo...)
	}
	return done, nil
}
