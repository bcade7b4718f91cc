// Package watch re-runs a command whenever the policy files under some directories change.
// It watches the directories recursively with fsnotify, debounces bursts of events (editors
// write a file in several steps), and ignores editor temporary files and permission-only
// changes. A policy is the .cue files directly in its directory: a .cue file in a
// subdirectory (or named _x.cue or .x.cue) is reported as not part of the policy instead of
// triggering a run. The nearest existing ancestor of each directory (its parent, while it
// exists) is watched too, so that a directory removed or moved away, alone or with its
// parents, and then restored is noticed and watched again.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long the tree must stay quiet before the command re-runs.
const DefaultDebounce = 100 * time.Millisecond

// Config says what to watch and what to run.
type Config struct {
	// Dirs are the policy directories to watch, with every subdirectory (hidden ones
	// excepted).
	Dirs []string
	// Run runs the command once and returns its exit status. It is called once at start
	// and again after each burst of changes; never concurrently.
	Run func(ctx context.Context) int
	// Log receives one status line per run (or per burst of changes that are not part of a
	// policy) and any watcher error.
	Log io.Writer
	// Clear, when set, is called before each run (the CLI clears a terminal screen).
	Clear func()
	// Debounce is the quiet period after the last event; zero means DefaultDebounce.
	Debounce time.Duration
	// Now reads the clock; nil means time.Now. Tests fix it for exact output.
	Now func() time.Time
}

// Watch runs cfg.Run, then re-runs it after every burst of relevant changes, until ctx is
// done. It returns nil when ctx ends, or an error when the directories cannot be watched.
func Watch(ctx context.Context, cfg Config) error {
	l, err := newLoop(cfg)
	if err != nil {
		return err
	}
	defer l.fw.Close()
	return l.serve(ctx)
}

func newLoop(cfg Config) (*loop, error) {
	if cfg.Debounce <= 0 {
		cfg.Debounce = DefaultDebounce
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	// Clean names compare equal to the names in events.
	cfg.Dirs = slices.Clone(cfg.Dirs)
	for i, dir := range cfg.Dirs {
		cfg.Dirs[i] = filepath.Clean(dir)
	}
	l := &loop{cfg: cfg, fw: fw, watched: map[string]bool{}, parents: map[string]bool{},
		gone: map[string]bool{}, changed: map[string]bool{}, roots: map[string]string{}, strays: map[string]string{},
		ancestors: map[string][]string{}, anchors: map[string]string{}}
	for _, dir := range cfg.Dirs {
		if err := l.addTree(dir, nil); err != nil {
			fw.Close()
			return nil, err
		}
		l.ancestors[dir] = ancestors(dir)
		l.anchor(dir)
	}
	return l, nil
}

func (l *loop) serve(ctx context.Context) error {
	// One timer, re-armed by every relevant event; it only signals the loop, which runs the
	// command itself so runs never overlap.
	fire := make(chan struct{}, 1)
	timer := time.AfterFunc(time.Hour, func() {
		select {
		case fire <- struct{}{}:
		default:
		}
	})
	timer.Stop()
	defer timer.Stop()
	rearm := func() {
		timer.Reset(l.cfg.Debounce)
		select { // a signal from the previous period is stale now
		case <-fire:
		default:
		}
	}

	l.run(ctx, "start")
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-l.fw.Events:
			if !ok {
				return nil
			}
			if l.handle(ev) {
				rearm()
			}
		case err, ok := <-l.fw.Errors:
			if !ok {
				return nil
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// Events were lost: watch any directory we missed and run again.
				fmt.Fprintln(l.cfg.Log, "agentctl watch: too many changes at once; rescanning")
				l.rescan()
				l.overflowed = true
				rearm()
				continue
			}
			fmt.Fprintf(l.cfg.Log, "agentctl watch: %v\n", err)
		case <-fire:
			switch {
			case len(l.changed) > 0 || len(l.roots) > 0 || l.overflowed:
				l.run(ctx, l.reason())
			case len(l.strays) > 0:
				fmt.Fprintf(l.cfg.Log, "agentctl watch: %s: not re-checked; %s\n", l.strayNote(), l.watching())
			}
		}
	}
}

type loop struct {
	cfg     Config
	fw      *fsnotify.Watcher
	watched map[string]bool // directories of the policy trees with a watch
	parents map[string]bool // anchors with a watch of their own (not part of a tree)
	gone    map[string]bool // Dirs removed or moved away, waiting to come back
	// ancestors of each Dir, nearest first, named as events name them; anchors: the one
	// watched for it, the nearest that exists, so that the Dir coming back is seen.
	ancestors map[string][]string
	anchors   map[string]string
	// Since the last run: policy files changed, Dirs that went or came back (what happened),
	// and .cue files that are not part of a policy (why not).
	changed map[string]bool
	roots   map[string]string
	strays  map[string]string
	// overflowed: the kernel dropped events since the last run, so changed is incomplete.
	overflowed bool
}

// addTree watches root and every non-hidden directory below it. Every .cue file found is
// passed to stray, when set (a subdirectory moved in whole may hold some).
func (l *loop) addTree(root string, stray func(path string)) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path != root && errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walked; its Remove event follows
			}
			return fmt.Errorf("watch %s: %w", path, err)
		}
		if !d.IsDir() {
			if stray != nil && filepath.Ext(path) == ".cue" && !Ignored(path) {
				stray(path)
			}
			return nil
		}
		if path != root && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir // .git and friends
		}
		if l.watched[path] {
			return nil
		}
		if err := l.fw.Add(path); err != nil {
			if path != root && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipDir
			}
			return fmt.Errorf("watch %s: %w", path, err)
		}
		l.watched[path] = true
		return nil
	})
}

// ancestors lists the directories holding dir, nearest first, named as the events of a
// watch on them name their entries: relative up to ".", for a relative dir; else absolute up
// to the filesystem root.
func ancestors(dir string) []string {
	var out []string
	if !filepath.IsAbs(dir) && dir != "." && dir != ".." && !strings.HasPrefix(dir, ".."+string(filepath.Separator)) {
		for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
			out = append(out, d)
			if d == "." {
				return out
			}
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		out = append(out, d)
		if filepath.Dir(d) == d {
			return out
		}
	}
}

// anchor watches the nearest existing ancestor of dir, so that dir coming back after a
// removal or a move (of itself or of an ancestor) is seen: a watch on dir ends with it, and
// one on a removed parent with the parent. A directory created between the look and the
// watch is found by looking again, a bounded number of times.
func (l *loop) anchor(dir string) {
	for range len(l.ancestors[dir]) + 1 {
		a := l.nearestExisting(dir)
		if a == "" || a == l.anchors[dir] {
			return
		}
		l.release(dir)
		l.anchors[dir] = a
		if !l.hasWatch(a) {
			if err := l.fw.Add(a); err != nil {
				fmt.Fprintf(l.cfg.Log, "agentctl watch: %s will not be noticed if it is removed and restored: %v\n", dir, err)
				return
			}
			l.parents[a] = true
		}
	}
}

// nearestExisting returns the nearest ancestor of dir that is a directory, or "".
func (l *loop) nearestExisting(dir string) string {
	for _, a := range l.ancestors[dir] {
		if fi, err := os.Stat(a); err == nil && fi.IsDir() {
			return a
		}
	}
	return ""
}

// release drops the anchor of dir, and its watch when no other Dir needs it.
func (l *loop) release(dir string) {
	a := l.anchors[dir]
	if a == "" {
		return
	}
	delete(l.anchors, dir)
	for _, other := range l.anchors {
		if other == a {
			return
		}
	}
	if l.parents[a] {
		_ = l.fw.Remove(a) // gone already when the ancestor was removed or moved
		delete(l.parents, a)
	}
}

// ancestorOf returns the Dirs that name is an ancestor of.
func (l *loop) ancestorOf(name string) []string {
	var out []string
	for _, dir := range l.cfg.Dirs {
		if slices.Contains(l.ancestors[dir], name) {
			out = append(out, dir)
		}
	}
	return out
}

// hasWatch reports whether dir has a watch already, under any name.
func (l *loop) hasWatch(dir string) bool {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for _, set := range []map[string]bool{l.watched, l.parents} {
		for p := range set {
			if a, err := filepath.Abs(p); err == nil && a == abs {
				return true
			}
		}
	}
	return false
}

// rescan re-walks every root, adding directories whose Create event was lost.
func (l *loop) rescan() {
	for _, dir := range l.cfg.Dirs {
		if l.gone[dir] {
			continue
		}
		if err := l.addTree(dir, nil); err != nil {
			fmt.Fprintf(l.cfg.Log, "agentctl watch: %v\n", err)
		}
	}
	l.restore()
}

// restore watches again every root that was gone and is a directory again.
func (l *loop) restore() bool {
	back := false
	for dir := range l.gone {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		if err := l.addTree(dir, nil); err != nil {
			fmt.Fprintf(l.cfg.Log, "agentctl watch: %v\n", err)
			continue
		}
		delete(l.gone, dir)
		l.anchor(dir)
		l.roots[dir] = "came back"
		back = true
	}
	return back
}

// root returns the watched policy directory that is name itself, or "" when there is none.
func (l *loop) root(name string) string {
	for _, dir := range l.cfg.Dirs {
		if name == dir {
			return dir
		}
		// Events of a parent watched by its absolute path name the root absolutely.
		if filepath.IsAbs(name) != filepath.IsAbs(dir) {
			a, err1 := filepath.Abs(name)
			b, err2 := filepath.Abs(dir)
			if err1 == nil && err2 == nil && a == b {
				return dir
			}
		}
	}
	return ""
}

// within reports whether name lies inside a watched tree (not merely in a watched parent).
func (l *loop) within(name string) bool {
	return l.watched[filepath.Dir(name)]
}

// handle updates the watch list for ev and reports whether ev should trigger a run or a
// status line.
func (l *loop) handle(ev fsnotify.Event) bool {
	name := filepath.Clean(ev.Name)
	if ev.Op == fsnotify.Chmod || Ignored(name) {
		return false
	}
	if dir := l.root(name); dir != "" {
		return l.handleRoot(dir, ev)
	}
	relevant := false
	if dirs := l.ancestorOf(name); len(dirs) > 0 {
		relevant = l.handleAncestor(dirs, ev)
	}
	if !l.within(name) {
		return relevant // a sibling of a watched directory, seen through an anchor's watch
	}
	return l.handleInTree(name, ev) || relevant
}

// handleInTree handles an event on an entry of a watched tree.
func (l *loop) handleInTree(name string, ev fsnotify.Event) bool {
	switch {
	case ev.Has(fsnotify.Create):
		if fi, err := os.Lstat(name); err == nil && fi.IsDir() {
			if strings.HasPrefix(filepath.Base(name), ".") {
				return false
			}
			// A new directory may already hold files and subdirectories (mkdir -p, mv, git
			// checkout): watch all of it. It is not part of any policy, nor its files.
			found := false
			err := l.addTree(name, func(path string) { l.strays[path] = inSubdirectory; found = true })
			if err != nil {
				fmt.Fprintf(l.cfg.Log, "agentctl watch: %v\n", err)
			}
			return found
		}
	case ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename):
		if l.watched[name] {
			l.unwatch(name) // a moved directory comes back through its new name's Create
			return false
		}
	}
	if filepath.Ext(name) != ".cue" {
		return false
	}
	if why := l.notPolicy(name); why != "" {
		// Worth a note only when written: someone may think they edited the policy.
		if !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Write) {
			return false
		}
		l.strays[name] = why
		return true
	}
	l.changed[name] = true
	return true
}

// handleRoot handles an event on a watched policy directory itself, seen by its parent.
func (l *loop) handleRoot(dir string, ev fsnotify.Event) bool {
	switch {
	case ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename):
		// Even when dir is back already (mv pol away; mv away pol), its watch ended with
		// the move: forget it now, and the Create that follows watches it again.
		if l.gone[dir] {
			return false
		}
		l.unwatch(dir)
		l.gone[dir] = true
		l.roots[dir] = "was removed"
		return true
	case ev.Has(fsnotify.Create):
		return l.restore()
	}
	return false
}

// handleAncestor handles an event on an ancestor of watched policy directories, seen by the
// watch of an anchor (its own, for its removal or move; its parent's, for its creation).
func (l *loop) handleAncestor(dirs []string, ev fsnotify.Event) bool {
	relevant := false
	for _, dir := range dirs {
		switch {
		case ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename):
			// The directory went with its ancestor (a moved one keeps its watches, which
			// now report another path).
			if !l.gone[dir] {
				l.unwatch(dir)
				l.gone[dir] = true
				l.roots[dir] = "was removed"
				relevant = true
			}
			delete(l.anchors, dir) // its watch ended with the ancestor, or is released below
			l.anchor(dir)
		case ev.Has(fsnotify.Create):
			l.anchor(dir)
		}
	}
	for a := range l.parents {
		if !slices.Contains(slices.Collect(maps.Values(l.anchors)), a) {
			_ = l.fw.Remove(a)
			delete(l.parents, a)
		}
	}
	return l.restore() || relevant
}

// unwatch forgets dir and every watched directory below it.
func (l *loop) unwatch(dir string) {
	for p := range l.watched {
		if p == dir || strings.HasPrefix(p, dir+string(filepath.Separator)) {
			if !l.parents[p] {
				_ = l.fw.Remove(p) // may already be gone with the directory
			}
			delete(l.watched, p)
		}
	}
}

// notPolicy says why the .cue file name is not part of the policy of its directory, or ""
// when it is: the loader reads the .cue files directly in the directory whose names do not
// start with . or _.
func (l *loop) notPolicy(name string) string {
	if l.root(filepath.Dir(name)) == "" {
		return inSubdirectory
	}
	if b := filepath.Base(name); strings.HasPrefix(b, ".") || strings.HasPrefix(b, "_") {
		return "files starting with . or _ are not loaded"
	}
	return ""
}

// inSubdirectory is why a .cue file below a policy directory is not part of the policy.
const inSubdirectory = "a policy is the .cue files directly in its directory, not in subdirectories"

// Ignored reports whether name is an editor's temporary or backup file, whose changes never
// trigger a run: Emacs lock files (.#x), backups (x~), Vim swap files (.x.swp, .x.swx) and
// Vim's write probe (4913), JetBrains safe-write files.
func Ignored(name string) bool {
	base := filepath.Base(name)
	switch {
	case strings.HasPrefix(base, ".#"),
		strings.HasSuffix(base, "~"),
		strings.HasSuffix(base, ".swp"),
		strings.HasSuffix(base, ".swx"),
		base == "4913",
		strings.HasSuffix(base, "___jb_tmp___"),
		strings.HasSuffix(base, "___jb_old___"):
		return true
	}
	return false
}

// reason names what changed since the last run, for the status line, and forgets it.
func (l *loop) reason() string {
	if l.overflowed {
		l.overflowed = false
		clear(l.changed)
		clear(l.roots)
		clear(l.strays)
		return "rescan after lost events"
	}
	var parts []string
	for _, dir := range slices.Sorted(maps.Keys(l.roots)) {
		parts = append(parts, dir+" "+l.roots[dir])
	}
	clear(l.roots)
	if len(l.changed) > 0 {
		parts = append(parts, list(slices.Sorted(maps.Keys(l.changed)))+" changed")
		clear(l.changed)
	}
	if len(l.strays) > 0 {
		parts = append(parts, l.strayNote())
	}
	return strings.Join(parts, "; ")
}

// strayNote says which .cue files changed that are not part of a policy, and forgets them.
func (l *loop) strayNote() string {
	paths := slices.Sorted(maps.Keys(l.strays))
	why := l.strays[paths[0]]
	for _, p := range paths[1:] {
		if l.strays[p] != why {
			why = "only the .cue files directly in a policy directory, not starting with . or _, are loaded"
			break
		}
	}
	clear(l.strays)
	verb := " is"
	if len(paths) > 1 {
		verb = " are"
	}
	return list(paths) + verb + " not part of a policy (" + why + ")"
}

// list joins up to three paths, then counts the rest.
func list(paths []string) string {
	const show = 3
	if len(paths) > show {
		return strings.Join(paths[:show], ", ") + fmt.Sprintf(" and %d more", len(paths)-show)
	}
	return strings.Join(paths, ", ")
}

// watching is the end of a status line: what is watched, and what is awaited.
func (l *loop) watching() string {
	s := "watching " + plural(len(l.watched), "directory", "directories")
	if len(l.gone) > 0 {
		s += ", waiting for " + strings.Join(slices.Sorted(maps.Keys(l.gone)), ", ") + " to come back"
	}
	return s + " (Ctrl-C to stop)"
}

func (l *loop) run(ctx context.Context, reason string) {
	if ctx.Err() != nil {
		return
	}
	if l.cfg.Clear != nil {
		l.cfg.Clear()
	}
	start := l.cfg.Now()
	code := l.cfg.Run(ctx)
	elapsed := l.cfg.Now().Sub(start)
	fmt.Fprintf(l.cfg.Log, "agentctl watch: %s: exit status %d after %s; %s\n", reason, code, round(elapsed), l.watching())
}

// round keeps durations readable: 1.234s, 87ms, 450µs.
func round(d time.Duration) time.Duration {
	if d >= time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
