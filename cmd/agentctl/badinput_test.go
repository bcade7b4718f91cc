package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadInput runs the malformed-policy corpus under testdata/bad: every directory (and a
// missing one) must fail to load with exit status 2, the exact file:line:col messages of
// testdata/bad/NAME.want on stderr, nothing on stdout but check's verdict line, and no file
// written by a command that would write one.
func TestBadInput(t *testing.T) {
	root, err := filepath.Abs("testdata/bad")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	cases := []string{"missing-dir"}
	for _, e := range entries {
		if e.IsDir() {
			cases = append(cases, e.Name())
		}
	}
	if len(cases) < 20 {
		t.Fatalf("corpus has %d cases, want at least 20", len(cases))
	}
	good, err := filepath.Abs("../../scenarios/secure-baseline")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	out := t.TempDir()
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			wantFile := name + ".want"
			var first string
			for i, args := range [][]string{
				{"vet", name},
				{"check", "--elapsed=false", name},
				{"compile", name, "-o", filepath.Join(out, name+".tar.gz")},
				{"diff", good, name}, // either side of a diff
				{"diff", name, good},
			} {
				var stdout, stderr bytes.Buffer
				code := run(args, &stdout, &stderr)
				if code != exitUsage {
					t.Errorf("%s: exit status %d, want %d\nstderr:\n%s", strings.Join(args, " "), code, exitUsage, stderr.String())
				}
				verdict := ""
				if args[0] == "check" {
					verdict = "FAIL  load: " + name + " did not load\n"
				}
				if stdout.String() != verdict {
					t.Errorf("%s: stdout:\n%s\nwant:\n%s", strings.Join(args, " "), stdout.String(), verdict)
				}
				// vet's stderr is the reference, even when empty.
				if i == 0 {
					first = stderr.String()
				} else if stderr.String() != first {
					t.Errorf("%s: stderr differs from vet's:\n%s", strings.Join(args, " "), stderr.String())
				}
			}
			if _, err := os.Stat(filepath.Join(out, name+".tar.gz")); err == nil {
				t.Errorf("compile wrote a bundle for a bad policy")
			}
			if *update {
				if err := os.WriteFile(wantFile, []byte(first), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatal(err)
			}
			if first != string(want) {
				t.Errorf("stderr:\n%s\nwant:\n%s", first, want)
			}
		})
	}
}
