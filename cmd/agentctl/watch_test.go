package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentctl/agentctl/internal/testtool"
)

var statusLine = regexp.MustCompile(`(?m)^agentctl watch: (.*): exit status (\d) after [^;]+; watching 1 directory \(Ctrl-C to stop\)\n`)

// copyDir copies the regular files of src (one level) into a new directory.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestWatchRerunsCheck drives `agentctl watch` through an atomic save that breaks the
// policy, the fix, and SIGINT. After every save, what watch printed must be exactly what
// `agentctl check` prints on the same files, plus the status line with the same exit status.
func TestWatchRerunsCheck(t *testing.T) {
	dir := copyDir(t, "../../scenarios/secure-baseline")
	policyFile := filepath.Join(dir, "policy.cue")
	good, err := os.ReadFile(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	bad := append(append([]byte{}, good...), "\nsettings: max_chain_depth: \"deep\"\n"...)

	var stdout, stderr testtool.SyncBuffer
	root := newRootCmd(&stdout, &stderr)
	root.SetArgs([]string{"watch", dir, "--", "--elapsed=false"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	// expectRun waits for run number n and compares it with a direct `agentctl check`.
	var outSeen, errSeen int
	expectRun := func(n int, wantReason string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for len(statusLine.FindAllString(stderr.String(), -1)) < n {
			if time.Now().After(deadline) {
				t.Fatalf("run %d did not happen; stderr:\n%s", n, stderr.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		gotOut, gotErr := stdout.String()[outSeen:], stderr.String()[errSeen:]
		outSeen, errSeen = outSeen+len(gotOut), errSeen+len(gotErr)
		m := statusLine.FindStringSubmatchIndex(gotErr)
		reason, status := gotErr[m[2]:m[3]], gotErr[m[4]:m[5]]
		gotErr = gotErr[:m[0]] + gotErr[m[1]:]

		var wantOut, wantErr bytes.Buffer
		code := run([]string{"check", "--elapsed=false", dir}, &wantOut, &wantErr)
		if reason != wantReason {
			t.Errorf("run %d: reason %q, want %q", n, reason, wantReason)
		}
		if status != string(rune('0'+code)) {
			t.Errorf("run %d: exit status %s, check exits %d", n, status, code)
		}
		if gotOut != wantOut.String() || gotErr != wantErr.String() {
			t.Errorf("run %d printed\nstdout:\n%s\nstderr:\n%s\ncheck prints\nstdout:\n%s\nstderr:\n%s",
				n, gotOut, gotErr, wantOut.String(), wantErr.String())
		}
	}
	atomicSave := func(content []byte) {
		t.Helper()
		tmp := filepath.Join(dir, ".policy.cue.swp-save")
		if err := os.WriteFile(tmp, content, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, policyFile); err != nil {
			t.Fatal(err)
		}
	}

	expectRun(1, "start")
	if strings.Contains(stdout.String(), "\x1b[") {
		t.Error("screen cleared although stdout is not a terminal")
	}
	atomicSave(bad)
	expectRun(2, policyFile+" changed")
	if !strings.Contains(stderr.String(), "exit status 2") || !strings.Contains(stderr.String(), "policy.cue:") {
		t.Fatalf("the invalid policy was not reported with its position; stderr:\n%s", stderr.String())
	}
	atomicSave(good)
	expectRun(3, policyFile+" changed")

	// SIGINT stops watching cleanly: Execute returns nil (exit status 0).
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("watch returned %v after SIGINT, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("watch did not stop on SIGINT")
	}
}

// TestWatchStopsOnSIGTERM checks the other signal a supervisor (systemd, docker) sends.
func TestWatchStopsOnSIGTERM(t *testing.T) {
	dir := copyDir(t, "../../scenarios/secure-baseline")
	var stdout, stderr testtool.SyncBuffer
	root := newRootCmd(&stdout, &stderr)
	root.SetArgs([]string{"watch", "--debounce", "50ms", dir})
	done := make(chan error, 1)
	go func() { done <- root.Execute() }()
	deadline := time.Now().Add(30 * time.Second)
	for !statusLine.MatchString(stderr.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no first run; stderr:\n%s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("watch returned %v after SIGTERM, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("watch did not stop on SIGTERM")
	}
}

// TestWatchPattern: DIR/... watches every policy directory under DIR and runs check on all of
// them, as check DIR/... would.
func TestWatchPattern(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"a", filepath.Join("b", "c")} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, d, "policy.cue"), []byte(failingPolicy), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr testtool.SyncBuffer
	cmd := newRootCmd(&stdout, &stderr)
	cmd.SetArgs([]string{"watch", filepath.Join(root, "..."), "--", "--elapsed=false"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	status := regexp.MustCompile(`(?m)^agentctl watch: start: exit status (\d) after [^;]+; watching (.*)\n`)
	deadline := time.Now().Add(30 * time.Second)
	for !status.MatchString(stderr.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no first run; stderr:\n%s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("watch returned %v after its context ended, want nil", err)
	}
	var want, wantErr bytes.Buffer
	code := run([]string{"check", "--elapsed=false", filepath.Join(root, "a"), filepath.Join(root, "b", "c")}, &want, &wantErr)
	m := status.FindStringSubmatch(stderr.String())
	if m[1] != string(rune('0'+code)) || m[2] != "2 directories (Ctrl-C to stop)" {
		t.Errorf("status line %q: want exit status %d, watching 2 directories", m[0], code)
	}
	if stdout.String() != want.String() {
		t.Errorf("watch printed\n%s\ncheck of both directories prints\n%s", stdout.String(), want.String())
	}
}
