package schema

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestExpandDirs(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{
		"policies/hr/policy.cue", "policies/hr/README.md", "policies/hr/nested/deep/p.cue",
		"policies/ops/a.cue", "policies/ops/b.cue", "policies/README.md",
		"policies/testdata/x.cue", "policies/vendor/x.cue", "policies/node_modules/x.cue",
		"policies/.hidden/x.cue", "policies/empty/notes.txt", "top.cue", ".github/x.cue",
	} {
		write(t, filepath.Join(dir, f), "package p\n")
	}
	t.Chdir(dir)
	for _, tc := range []struct {
		args          []string
		dirs, skipped []string
		err           string
	}{
		{args: nil, dirs: []string{"."}},
		{args: []string{"./..."}, dirs: []string{".", "policies/hr", "policies/hr/nested/deep", "policies/ops"}},
		{args: []string{"..."}, dirs: []string{".", "policies/hr", "policies/hr/nested/deep", "policies/ops"}},
		{args: []string{"policies/..."}, dirs: []string{"policies/hr", "policies/hr/nested/deep", "policies/ops"}},
		{args: []string{"policies/hr/...", "policies/hr", "policies/ops"}, dirs: []string{"policies/hr", "policies/hr/nested/deep", "policies/ops"}},
		{args: []string{"policies/hr", "policies/README.md", "policies/ops"}, dirs: []string{"policies/hr", "policies/ops"}, skipped: []string{"policies/README.md"}},
		{args: []string{"policies/missing"}, dirs: []string{"policies/missing"}}, // the loader says what is wrong
		{args: []string{"policies/missing/..."}, err: "policies/missing/...: no such directory policies/missing"},
		{args: []string{"policies/empty/..."}, err: "policies/empty/...: no policy directories (no .cue files under policies/empty)"},
		{args: []string{"policies/hr/policy.cue"}, err: "policies/hr/policy.cue is a file: a policy is every .cue file of a directory; give its directory, policies/hr"},
		{args: []string{"policies/README.md"}, err: "no policy directory among the arguments (policies/README.md: not directories)"},
	} {
		dirs, skipped, err := ExpandDirs(tc.args)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ExpandDirs(%q) error %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(dirs, tc.dirs) || !reflect.DeepEqual(skipped, tc.skipped) {
			t.Errorf("ExpandDirs(%q) = %q, %q, %v; want %q, %q", tc.args, dirs, skipped, err, tc.dirs, tc.skipped)
		}
	}
}

// TestIsRecursive: exactly the arguments ExpandDirs walks are patterns.
func TestIsRecursive(t *testing.T) {
	for arg, want := range map[string]bool{
		"./...": true, "...": true, "policies/...": true, "/...": true,
		".": false, "policies": false, "policies/...x": false, "policies/..": false, "a...": false,
	} {
		if got := IsRecursive(arg); got != want {
			t.Errorf("IsRecursive(%q) = %t, want %t", arg, got, want)
		}
	}
}

// TestLoadHintsRecursive: a directory without .cue files whose subdirectories hold policies
// says how to take them all.
func TestLoadHintsRecursive(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "policies", "hr", "policy.cue"), "package p\n")
	if err := os.MkdirAll(filepath.Join(dir, "none"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	for dir, want := range map[string]string{
		".":        ".: no .cue files; the directories under it hold policies: name them, or ./... for every one",
		"policies": "policies: no .cue files; the directories under it hold policies: name them, or policies/... for every one",
		"none":     "none: no .cue files (start a policy with 'agentctl init none')",
	} {
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%s) = %v, want %q", dir, err, want)
		}
	}
}
