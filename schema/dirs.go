package schema

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Recursive is the suffix of a directory argument that stands for every policy directory
// under it, as Go's ./... does for packages.
const Recursive = "/..."

// skipDir reports whether a recursive expansion skips the directory named name: test data,
// vendored and node dependencies, and hidden directories (.git, .github) hold no policy of
// the repository's own.
func skipDir(name string) bool {
	return name == "testdata" || name == "vendor" || name == "node_modules" || strings.HasPrefix(name, ".") && name != "."
}

// ExpandDirs turns a command's policy directory arguments into directories: none is the
// current directory; DIR/... (and ...) is every directory under DIR, DIR included, that
// holds a policy file, sorted, skipping testdata, vendor, node_modules and hidden
// directories; any other argument is taken as it is. A file that is not a .cue file (a
// README.md that a shell glob such as policies/* names) is skipped and listed in skipped;
// a .cue file is an error, since a policy is a whole directory. Each directory appears
// once, in the order first named.
func ExpandDirs(args []string) (dirs, skipped []string, err error) {
	if len(args) == 0 {
		return []string{"."}, nil, nil
	}
	seen := map[string]bool{}
	add := func(d string) {
		if key := filepath.Clean(d); !seen[key] {
			seen[key] = true
			dirs = append(dirs, d)
		}
	}
	for _, arg := range args {
		if root, ok := recursiveRoot(arg); ok {
			found, err := policyDirsUnder(root)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", arg, err)
			}
			if len(found) == 0 {
				return nil, nil, fmt.Errorf("%s: no policy directories (no .cue files under %s)", arg, root)
			}
			for _, d := range found {
				add(d)
			}
			continue
		}
		if info, err := os.Stat(arg); err == nil && info.Mode().IsRegular() {
			if filepath.Ext(arg) == ".cue" {
				return nil, nil, fmt.Errorf("%s is a file: a policy is every .cue file of a directory; give its directory, %s", arg, filepath.Dir(arg))
			}
			skipped = append(skipped, arg)
			continue
		}
		add(arg)
	}
	if len(dirs) == 0 {
		return nil, skipped, fmt.Errorf("no policy directory among the arguments (%s: not directories)", strings.Join(skipped, ", "))
	}
	return dirs, skipped, nil
}

// IsRecursive reports whether arg is a DIR/... pattern (or ...), which ExpandDirs expands:
// commands that take a single policy directory refuse it.
func IsRecursive(arg string) bool {
	_, ok := recursiveRoot(arg)
	return ok
}

// recursiveRoot returns the directory a DIR/... argument walks.
func recursiveRoot(arg string) (string, bool) {
	if arg == "..." {
		return ".", true
	}
	root, ok := strings.CutSuffix(filepath.ToSlash(arg), Recursive)
	if !ok {
		return "", false
	}
	if root == "" {
		root = "/"
	}
	return filepath.FromSlash(root), true
}

// policyDirsUnder returns root and the directories under it that hold a policy file,
// sorted, named by joining root and their relative path.
func policyDirsUnder(root string) ([]string, error) {
	info, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("no such directory %s", root)
	case err != nil:
		return nil, unwrapPathError(err)
	case !info.IsDir():
		return nil, fmt.Errorf("%s is not a directory", root)
	}
	var out []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if IsPolicyFile(d.Name()) {
			dir := filepath.Dir(path)
			if len(out) == 0 || out[len(out)-1] != dir {
				out = append(out, dir)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// policiesBelow reports whether a directory under dir (not dir itself) holds a policy file:
// the hint for a command given a repository root whose policies live in subdirectories.
func policiesBelow(dir string) bool {
	found, err := policyDirsUnder(dir)
	return err == nil && len(found) > 0 // dir itself holds none when this is asked
}

// RecursivePattern is the DIR/... argument that takes every policy directory under dir.
func RecursivePattern(dir string) string {
	if dir == "." {
		return "./..."
	}
	return strings.TrimSuffix(filepath.ToSlash(dir), "/") + Recursive
}
