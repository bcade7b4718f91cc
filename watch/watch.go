// Package watch re-runs a command whenever files under some directories change. It watches
// the directories recursively with fsnotify, debounces bursts of events (editors write a file
// in several steps), and ignores editor temporary files and permission-only changes.
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
	// Dirs are the directories to watch, with every subdirectory (hidden ones excepted).
	Dirs []string
	// Run runs the command once and returns its exit status. It is called once at start
	// and again after each burst of changes; never concurrently.
	Run func(ctx context.Context) int
	// Log receives one status line per run and any watcher error.
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
	l := &loop{cfg: cfg, fw: fw, watched: map[string]bool{}, changed: map[string]bool{}}
	for _, dir := range cfg.Dirs {
		if err := l.addTree(dir); err != nil {
			fw.Close()
			return nil, err
		}
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
			if len(l.changed) > 0 || l.overflowed {
				l.run(ctx, l.reason())
			}
		}
	}
}

type loop struct {
	cfg     Config
	fw      *fsnotify.Watcher
	watched map[string]bool // directories with a watch
	changed map[string]bool // paths changed since the last run
	// overflowed: the kernel dropped events since the last run, so changed is incomplete.
	overflowed bool
}

// addTree watches dir and every non-hidden directory below it.
func (l *loop) addTree(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path != root && errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walked; its Remove event follows
			}
			return fmt.Errorf("watch %s: %w", path, err)
		}
		if !d.IsDir() {
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

// rescan re-walks every root, adding directories whose Create event was lost.
func (l *loop) rescan() {
	for _, dir := range l.cfg.Dirs {
		if err := l.addTree(dir); err != nil {
			fmt.Fprintf(l.cfg.Log, "agentctl watch: %v\n", err)
		}
	}
}

// handle updates the watch list for ev and reports whether ev should trigger a run.
func (l *loop) handle(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod || Ignored(ev.Name) {
		return false
	}
	switch {
	case ev.Has(fsnotify.Create):
		if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
			if strings.HasPrefix(filepath.Base(ev.Name), ".") {
				return false
			}
			// A new directory may already hold files and subdirectories (mkdir -p, mv, git
			// checkout): watch all of it; this run picks up what is inside.
			if err := l.addTree(ev.Name); err != nil {
				fmt.Fprintf(l.cfg.Log, "agentctl watch: %v\n", err)
			}
			l.changed[ev.Name] = true
			return true
		}
	case ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename):
		if l.watched[ev.Name] {
			// A watched directory went away or moved: forget it and what was below it. A
			// moved directory comes back through the Create event of its new name.
			for p := range l.watched {
				if p == ev.Name || strings.HasPrefix(p, ev.Name+string(filepath.Separator)) {
					_ = l.fw.Remove(p) // may already be gone with the directory
					delete(l.watched, p)
				}
			}
			l.changed[ev.Name] = true
			return true
		}
	}
	if filepath.Ext(ev.Name) != ".cue" {
		return false
	}
	l.changed[ev.Name] = true
	return true
}

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

// reason names what changed since the last run, for the status line.
func (l *loop) reason() string {
	paths := slices.Sorted(maps.Keys(l.changed))
	clear(l.changed)
	if l.overflowed {
		l.overflowed = false
		return "rescan after lost events"
	}
	const show = 3
	if len(paths) > show {
		return strings.Join(paths[:show], ", ") + fmt.Sprintf(" and %d more changed", len(paths)-show)
	}
	return strings.Join(paths, ", ") + " changed"
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
	fmt.Fprintf(l.cfg.Log, "agentctl watch: %s: exit status %d after %s; watching %s (Ctrl-C to stop)\n",
		reason, code, round(elapsed), plural(len(l.watched), "directory", "directories"))
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
