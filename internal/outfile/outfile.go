// Package outfile writes the files a user names on the command line (compile -o,
// lint --write-baseline, report outputs) without clobbering what the user did not mean to
// replace. Every command that writes such a file goes through Write, so the rules are the
// same everywhere:
//
//   - "-" and "/dev/stdout" mean standard output: the data is streamed there.
//   - A symbolic link is followed: its target is replaced, and the link stays a link.
//   - Directories, named pipes, devices and sockets are refused, never replaced.
//   - A .cue file (policy source) is never replaced, unless Options.CUE says so.
//   - No existing file directly inside a directory of Options.Protect (the policy directories
//     the command read) is replaced, unless Options.Ours recognises an earlier output by its
//     content. With Options.OursOnly, no existing file anywhere is replaced unless it does.
//   - The file is written atomically: a temporary file in the target's directory, synced,
//     then renamed over the target, so readers never see half of it.
package outfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentctl/agentctl/internal/infile"
)

// Options say which existing files a write must leave alone, beyond the rules every write
// follows.
type Options struct {
	// Protect lists the directories the command read its policy from: no existing file
	// directly inside one is replaced, except one that Ours recognises.
	Protect []string
	// Ours reports whether an existing file, read from r (at most maxRecognised bytes), is an
	// earlier output of the same command (a bundle whose manifest agentctl wrote, say), which
	// may then be replaced even inside Protect. Nil: nothing there is replaced.
	Ours func(r io.Reader) bool
	// OursOnly refuses to replace any existing file that Ours does not recognise, wherever it
	// is: for commands whose output could pass for a hand-written file (import writes CUE).
	OursOnly bool
	// CUE allows replacing .cue files, for commands whose output is policy source.
	CUE bool
}

// Stdout reports whether path asks for standard output: "-" or "/dev/stdout".
func Stdout(path string) bool { return path == "-" || path == "/dev/stdout" }

// Check reports why Write(path) would be refused, without writing anything. Commands call it
// before slow work so that a bad -o fails at once.
func Check(path string, opts Options) error {
	_, _, err := resolve(path, opts)
	return err
}

// Write writes data to standard output (stdout) when Stdout(path), else atomically to the
// file path names (a symbolic link's target), under the rules of the package comment.
func Write(stdout io.Writer, path string, data []byte, opts Options) error {
	if Stdout(path) {
		if _, err := stdout.Write(data); err != nil {
			return fmt.Errorf("write standard output: %w", err)
		}
		return nil
	}
	target, mode, err := resolve(path, opts)
	if err != nil {
		return err
	}
	if err := atomicWrite(target, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// maxLinks bounds symbolic link chains, as the kernel does (ELOOP).
const maxLinks = 40

// resolve follows symbolic links from path to the file a write replaces, checks it against
// the rules, and returns it with the permissions the written file gets.
func resolve(path string, opts Options) (string, fs.FileMode, error) {
	if path == "" {
		return "", 0, errors.New("no output file named")
	}
	if Stdout(path) {
		return path, 0, nil
	}
	target, fi, err := follow(path)
	if err != nil {
		return "", 0, fmt.Errorf("write %s: %w", path, err)
	}
	name := path
	if target != filepath.Clean(path) {
		name = fmt.Sprintf("%s (a symbolic link to %s)", path, target)
	}
	refuse := func(format string, args ...any) (string, fs.FileMode, error) {
		return "", 0, fmt.Errorf("write %s: %s", name, fmt.Sprintf(format, args...))
	}
	if fi != nil {
		if fi.IsDir() {
			return refuse("is a directory; name a file")
		}
		if !fi.Mode().IsRegular() {
			return refuse("is %s, not a regular file; refusing to replace it (- writes to standard output)", infile.Kind(fi.Mode()))
		}
		if !opts.CUE && strings.HasSuffix(target, ".cue") {
			return refuse("refusing to overwrite a .cue file (policy source)")
		}
		if dir := protected(target, opts.Protect); dir != "" && !ours(target, opts.Ours) {
			return refuse("refusing to overwrite a file of the policy directory %s", dir)
		}
		if opts.OursOnly && !ours(target, opts.Ours) {
			return refuse("refusing to overwrite a file this command did not write")
		}
		return target, fi.Mode().Perm(), nil
	}
	if !opts.CUE && strings.HasSuffix(target, ".cue") {
		// A new .cue file would join the policy it lands beside.
		return refuse("refusing to write a .cue file (it would become policy source)")
	}
	return target, 0o644, nil
}

// follow resolves symbolic links from path until a file that is not a link, or a name that
// does not exist yet. The directory holding the result must exist. fi is nil for a new file.
func follow(path string) (target string, fi fs.FileInfo, err error) {
	p := filepath.Clean(path)
	for range maxLinks {
		dir := filepath.Dir(p)
		di, err := os.Stat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return "", nil, fmt.Errorf("no such directory %s", dir)
		case err != nil:
			return "", nil, err
		case !di.IsDir():
			return "", nil, fmt.Errorf("%s is not a directory", dir)
		}
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return p, nil, nil
		}
		if err != nil {
			return "", nil, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return p, fi, nil
		}
		link, err := os.Readlink(p)
		if err != nil {
			return "", nil, err
		}
		if !filepath.IsAbs(link) {
			// Relative to the link's directory, resolved first: "dir/.." must not be cleaned
			// away lexically when dir is itself a link.
			real, err := filepath.EvalSymlinks(dir)
			if err != nil {
				return "", nil, err
			}
			link = filepath.Join(real, link)
		}
		p = filepath.Clean(link)
	}
	return "", nil, errors.New("too many levels of symbolic links")
}

// protected returns the directory of dirs that directly holds target, or "".
func protected(target string, dirs []string) string {
	td, err := canonical(filepath.Dir(target))
	if err != nil {
		return ""
	}
	for _, d := range dirs {
		if cd, err := canonical(d); err == nil && cd == td {
			return d
		}
	}
	return ""
}

func canonical(dir string) (string, error) {
	d, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	return filepath.Abs(d)
}

// maxRecognised bounds what a recogniser reads of an existing file.
const maxRecognised = 64 << 20

// ours reports whether the existing file at path is an earlier output, judged by its content.
func ours(path string, recognise func(io.Reader) bool) bool {
	if recognise == nil {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return recognise(io.LimitReader(f, maxRecognised))
}

// atomicWrite writes data to a temporary file beside path, syncs it and renames it over
// path, so that readers (an OPA bundle server, CI) never see half a file.
func atomicWrite(path string, data []byte, mode fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
