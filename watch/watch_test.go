package watch

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/agentctl/agentctl/internal/testtool"
)

// wait bounds every expected run; quiet is how long a test waits to be sure no run follows
// (several debounce periods).
const (
	wait  = 10 * time.Second
	quiet = 400 * time.Millisecond
)

// harness runs Watch on a temporary directory. Each run sends a snapshot of the tree
// ("path=content" lines for non-hidden .cue files) so tests see what the command saw.
type harness struct {
	t      *testing.T
	dir    string
	runs   chan string
	clears chan struct{}
	log    *testtool.SyncBuffer
	loop   *loop
	stop   context.CancelFunc
	done   chan error
}

func start(t *testing.T, status func(snapshot string) int) *harness {
	return startWith(t, status, 0)
}

// startWith starts a harness with the given debounce (0: the default).
func startWith(t *testing.T, status func(snapshot string) int, debounce time.Duration) *harness {
	t.Helper()
	return startAt(t, t.TempDir(), status, debounce)
}

// startAt starts a harness watching dir, which it creates with a policy.cue.
func startAt(t *testing.T, dir string, status func(snapshot string) int, debounce time.Duration) *harness {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "policy.cue"), "v1")
	h := &harness{t: t, dir: dir, runs: make(chan string, 100), clears: make(chan struct{}, 100),
		log: &testtool.SyncBuffer{}, done: make(chan error, 1)}
	fixed := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	cfg := Config{
		Dirs: []string{dir},
		Run: func(context.Context) int {
			s := snapshot(t, dir)
			h.runs <- s
			if status == nil {
				return 0
			}
			return status(s)
		},
		Log:      h.log,
		Clear:    func() { h.clears <- struct{}{} },
		Now:      func() time.Time { return fixed },
		Debounce: debounce,
	}
	l, err := newLoop(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.loop = l
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	h.stop = cancel
	go func() {
		defer l.fw.Close()
		h.done <- l.serve(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(wait):
			t.Error("watch did not stop after cancel")
		}
	})
	if got := h.next(); got != "policy.cue=v1" {
		t.Fatalf("first run saw %q", got)
	}
	return h
}

func (h *harness) next() string {
	h.t.Helper()
	select {
	case s := <-h.runs:
		return s
	case <-time.After(wait):
		h.t.Fatalf("no run within %s; log:\n%s", wait, h.log.String())
		return ""
	}
}

func (h *harness) expectRun(want string) {
	h.t.Helper()
	if got := h.next(); got != want {
		h.t.Fatalf("run saw\n%s\nwant\n%s", got, want)
	}
	h.expectQuiet()
}

func (h *harness) expectQuiet() {
	h.t.Helper()
	select {
	case s := <-h.runs:
		h.t.Fatalf("unexpected run, saw\n%s\nlog:\n%s", s, h.log.String())
	case <-time.After(quiet):
	}
}

// until waits for a run that saw want, skipping runs that saw an intermediate state (rm -rf
// removes files one by one, which a loaded machine may split into several bursts).
func (h *harness) until(want string) {
	h.t.Helper()
	for got := h.next(); got != want; got = h.next() {
	}
	h.expectQuiet()
}

// expectStatus waits for want to be the log's last line, with no run meanwhile. want must
// differ from the line before, which it cannot tell from a new one.
func (h *harness) expectStatus(want string) {
	h.t.Helper()
	deadline := time.Now().Add(wait)
	for !strings.HasSuffix(h.log.String(), "\n"+want+"\n") {
		if time.Now().After(deadline) {
			h.t.Fatalf("log does not end with\n%s\nlog:\n%s", want, h.log.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.expectQuiet()
}

// lastLine is the log's last line.
func (h *harness) lastLine() string {
	lines := strings.Split(strings.TrimSuffix(h.log.String(), "\n"), "\n")
	return lines[len(lines)-1]
}

func (h *harness) path(rel string) string { return filepath.Join(h.dir, filepath.FromSlash(rel)) }

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func snapshot(t *testing.T, dir string) string {
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		return "(no directory)"
	}
	var lines []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && path != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || filepath.Ext(path) != ".cue" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		lines = append(lines, filepath.ToSlash(rel)+"="+string(b))
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestBurstOfWritesRunsOnce(t *testing.T) {
	// A generous quiet period: the four writes must land in one window even on a loaded CI
	// machine. What is tested is that one timer, re-armed per event, collapses them.
	h := startWith(t, nil, 500*time.Millisecond)
	for _, v := range []string{"v2", "v3", "v4", "v5"} {
		writeFile(t, h.path("policy.cue"), v)
	}
	h.expectRun("policy.cue=v5")
}

func TestAtomicSave(t *testing.T) {
	h := start(t, nil)
	// What editors and `sed -i` do: write a temporary file, then rename it over the original.
	tmp := h.path(".policy.cue.tmp-1234")
	writeFile(t, tmp, "v2")
	if err := os.Rename(tmp, h.path("policy.cue")); err != nil {
		t.Fatal(err)
	}
	h.expectRun("policy.cue=v2")
	// The file is a new inode now; it must still be watched (the directory is).
	writeFile(t, h.path("policy.cue"), "v3")
	h.expectRun("policy.cue=v3")
}

func TestDeleteAndRecreate(t *testing.T) {
	h := start(t, nil)
	if err := os.Remove(h.path("policy.cue")); err != nil {
		t.Fatal(err)
	}
	h.expectRun("")
	writeFile(t, h.path("policy.cue"), "again")
	h.expectRun("policy.cue=again")
}

// TestNewDirectories: subdirectories are watched as they appear, but a .cue file in one is
// not part of the policy: the status line says so and nothing is re-checked.
func TestNewDirectories(t *testing.T) {
	// Writes that must land in one burst get a generous quiet period (see
	// TestBurstOfWritesRunsOnce).
	h := startWith(t, nil, 500*time.Millisecond)
	const why = " is not part of a policy (a policy is the .cue files directly in its directory, not in subdirectories): not re-checked; "

	// mkdir alone changes no policy.
	if err := os.Mkdir(h.path("team"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.expectQuiet()
	writeFile(t, h.path("team/a.cue"), "a1")
	h.expectStatus("agentctl watch: " + h.path("team/a.cue") + why + "watching 2 directories (Ctrl-C to stop)")

	// A tree moved in whole already holds files and subdirectories: all get watched, and
	// the .cue files inside are reported.
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(outside, "ops", "deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(outside, "ops", "deep", "b.cue"), "b1")
	if err := os.Rename(filepath.Join(outside, "ops"), h.path("ops")); err != nil {
		t.Fatal(err)
	}
	h.expectStatus("agentctl watch: " + h.path("ops/deep/b.cue") + why + "watching 4 directories (Ctrl-C to stop)")
	writeFile(t, h.path("ops/deep/b.cue"), "b2")
	writeFile(t, h.path("ops/deep/d.cue"), "d1")
	h.expectStatus("agentctl watch: " + h.path("ops/deep/b.cue") + ", " + h.path("ops/deep/d.cue") + " are" + strings.TrimPrefix(why, " is") + "watching 4 directories (Ctrl-C to stop)")

	// A policy file changed together with a stray one: one run, whose status line names both.
	writeFile(t, h.path("policy.cue"), "v2")
	writeFile(t, h.path("team/a.cue"), "a2")
	h.expectRun("ops/deep/b.cue=b2\nops/deep/d.cue=d1\npolicy.cue=v2\nteam/a.cue=a2")
	if got, want := h.lastLine(), "agentctl watch: "+h.path("policy.cue")+" changed; "+h.path("team/a.cue")+
		" is not part of a policy (a policy is the .cue files directly in its directory, not in subdirectories): exit status 0 after 0s; watching 4 directories (Ctrl-C to stop)"; got != want {
		t.Errorf("status line\n%s\nwant\n%s", got, want)
	}

	// Files the loader skips (_x.cue, .x.cue) are not part of the policy either.
	writeFile(t, h.path("_draft.cue"), "d")
	h.expectStatus("agentctl watch: " + h.path("_draft.cue") + " is not part of a policy (files starting with . or _ are not loaded): not re-checked; watching 4 directories (Ctrl-C to stop)")

	// A removed subdirectory is forgotten without a run or a note, and a re-created one is
	// watched again.
	if err := os.RemoveAll(h.path("ops")); err != nil {
		t.Fatal(err)
	}
	h.expectQuiet()
	if err := os.MkdirAll(h.path("ops/deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, h.path("ops/deep/c.cue"), "c1")
	h.expectStatus("agentctl watch: " + h.path("ops/deep/c.cue") + why + "watching 4 directories (Ctrl-C to stop)")
	writeFile(t, h.path("policy.cue"), "v3")
	h.expectRun("_draft.cue=d\nops/deep/c.cue=c1\npolicy.cue=v3\nteam/a.cue=a2")
}

// TestDirectoryRemovedAndRestored: `mv pol away; mv away pol` used to leave watch watching
// 0 directories and ignoring every later edit. The parent's watch sees it come back.
func TestDirectoryRemovedAndRestored(t *testing.T) {
	h := startWith(t, nil, 300*time.Millisecond)
	away := h.dir + ".away"
	if err := os.Mkdir(h.path("team"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.expectQuiet()
	status := func(reason, watching string) string {
		return "agentctl watch: " + reason + ": exit status 0 after 0s; watching " + watching + " (Ctrl-C to stop)"
	}

	if err := os.Rename(h.dir, away); err != nil {
		t.Fatal(err)
	}
	h.expectRun("(no directory)")
	if got, want := h.lastLine(), status(h.dir+" was removed", "0 directories, waiting for "+h.dir+" to come back"); got != want {
		t.Errorf("status line\n%s\nwant\n%s", got, want)
	}
	if err := os.Rename(away, h.dir); err != nil {
		t.Fatal(err)
	}
	h.expectRun("policy.cue=v1")
	if got, want := h.lastLine(), status(h.dir+" came back", "2 directories"); got != want {
		t.Errorf("status line\n%s\nwant\n%s", got, want)
	}
	writeFile(t, h.path("policy.cue"), "v2")
	h.expectRun("policy.cue=v2")
	writeFile(t, h.path("team/x.cue"), "x")
	h.expectStatus("agentctl watch: " + h.path("team/x.cue") + " is not part of a policy (a policy is the .cue files directly in its directory, not in subdirectories): not re-checked; watching 2 directories (Ctrl-C to stop)")

	// Moved away and back at once (usually within one debounce period, so one run): edits
	// still count.
	if err := os.Rename(h.dir, away); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(away, h.dir); err != nil {
		t.Fatal(err)
	}
	h.until("policy.cue=v2\nteam/x.cue=x")
	writeFile(t, h.path("policy.cue"), "v3")
	h.expectRun("policy.cue=v3\nteam/x.cue=x")

	// Removed for good, then made again from scratch.
	if err := os.RemoveAll(h.dir); err != nil {
		t.Fatal(err)
	}
	h.until("(no directory)")
	if err := os.Mkdir(h.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h.next() // the directory came back; policy.cue may or may not be in it yet
	writeFile(t, h.path("policy.cue"), "v4")
	h.expectRun("policy.cue=v4")
	if got, want := h.lastLine(), status(h.path("policy.cue")+" changed", "1 directory"); got != want {
		t.Errorf("status line\n%s\nwant\n%s", got, want)
	}
}

// TestParentRemovedAndRestored: with the policy directory's parent deleted and made again,
// or moved away and back, watch used to wait forever (the parent's watch ends with it) or,
// after a move, take edits under the new name for the policy's.
func TestParentRemovedAndRestored(t *testing.T) {
	parent := filepath.Join(t.TempDir(), "parent")
	h := startAt(t, filepath.Join(parent, "pol"), nil, 300*time.Millisecond)
	status := func(reason, watching string) string {
		return "agentctl watch: " + reason + ": exit status 0 after 0s; watching " + watching + " (Ctrl-C to stop)"
	}
	waiting := "0 directories, waiting for " + h.dir + " to come back"

	if err := os.RemoveAll(parent); err != nil {
		t.Fatal(err)
	}
	h.until("(no directory)")
	// rm -rf removes the files first, which the line may name too.
	if got := h.lastLine(); !strings.Contains(got, h.dir+" was removed") || !strings.HasSuffix(got, waiting+" (Ctrl-C to stop)") {
		t.Errorf("status line\n%s\nwant %s was removed ... %s", got, h.dir, waiting)
	}
	// Made again in steps, as mkdir and cp do: the deeper directories appear after the
	// watch moved up.
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	h.expectQuiet()
	if err := os.Mkdir(h.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h.next() // the directory came back; policy.cue may or may not be in it yet
	writeFile(t, h.path("policy.cue"), "v2")
	h.expectRun("policy.cue=v2")

	// The parent moved away: the policy directory is gone, and edits under the new name are
	// not the policy's; moved back, it is watched again.
	away := parent + ".away"
	if err := os.Rename(parent, away); err != nil {
		t.Fatal(err)
	}
	h.expectRun("(no directory)")
	if got, want := h.lastLine(), status(h.dir+" was removed", waiting); got != want {
		t.Errorf("status line\n%s\nwant\n%s", got, want)
	}
	writeFile(t, filepath.Join(away, "pol", "policy.cue"), "elsewhere")
	h.expectQuiet()
	if err := os.Rename(away, parent); err != nil {
		t.Fatal(err)
	}
	h.expectRun("policy.cue=elsewhere")
	if got, want := h.lastLine(), status(h.dir+" came back", "1 directory"); got != want {
		t.Errorf("status line\n%s\nwant\n%s", got, want)
	}
	writeFile(t, h.path("policy.cue"), "v3")
	h.expectRun("policy.cue=v3")
}

func TestIgnoredChanges(t *testing.T) {
	h := start(t, nil)
	for _, name := range []string{"4913", "policy.cue~", ".#policy.cue", ".policy.cue.swp",
		"policy.cue___jb_tmp___", "README.md", "bundle.tar.gz"} {
		writeFile(t, h.path(name), "x")
	}
	if err := os.Chmod(h.path("policy.cue"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(h.path(".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, h.path(".git/x.cue"), "x")
	h.expectQuiet()
	// Still watching: a real change runs.
	writeFile(t, h.path("policy.cue"), "v2")
	h.expectRun("policy.cue=v2")
}

func TestInvalidPolicyForAWhile(t *testing.T) {
	h := start(t, func(s string) int {
		if strings.Contains(s, "broken") {
			return 2
		}
		return 0
	})
	writeFile(t, h.path("policy.cue"), "broken")
	h.expectRun("policy.cue=broken")
	writeFile(t, h.path("policy.cue"), "fixed")
	h.expectRun("policy.cue=fixed")
	p := h.path("policy.cue")
	want := "agentctl watch: start: exit status 0 after 0s; watching 1 directory (Ctrl-C to stop)\n" +
		"agentctl watch: " + p + " changed: exit status 2 after 0s; watching 1 directory (Ctrl-C to stop)\n" +
		"agentctl watch: " + p + " changed: exit status 0 after 0s; watching 1 directory (Ctrl-C to stop)\n"
	if got := h.log.String(); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
	if n := len(h.clears); n != 3 {
		t.Errorf("screen cleared %d times, want once per run (3)", n)
	}
}

func TestOverflowReruns(t *testing.T) {
	h := start(t, nil)
	h.loop.fw.Errors <- fsnotify.ErrEventOverflow
	h.expectRun("policy.cue=v1")
	want := "agentctl watch: too many changes at once; rescanning\n" +
		"agentctl watch: rescan after lost events: exit status 0 after 0s; watching 1 directory (Ctrl-C to stop)\n"
	if got := h.log.String(); !strings.HasSuffix(got, want) {
		t.Errorf("log:\n%s\nwant suffix:\n%s", got, want)
	}
}

func TestStopsWhenContextEnds(t *testing.T) {
	h := start(t, nil)
	h.stop()
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatalf("Watch returned %v, want nil", err)
		}
		h.done <- nil // for the cleanup
	case <-time.After(wait):
		t.Fatal("Watch did not return after cancel")
	}
}

func TestMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "absent")
	err := Watch(context.Background(), Config{Dirs: []string{dir}, Run: func(context.Context) int {
		t.Error("Run called for a missing directory")
		return 0
	}})
	if err == nil || !strings.HasPrefix(err.Error(), "watch "+dir+": ") {
		t.Fatalf("err = %v, want watch %s: ...", err, dir)
	}
}

func TestIgnored(t *testing.T) {
	for name, want := range map[string]bool{
		"a/.#policy.cue": true, "policy.cue~": true, ".policy.cue.swp": true, ".policy.cue.swx": true,
		"4913": true, "x.cue___jb_old___": true,
		"policy.cue": false, "a/4914": false, "swp.cue": false,
	} {
		if got := Ignored(name); got != want {
			t.Errorf("Ignored(%q) = %v, want %v", name, got, want)
		}
	}
}
