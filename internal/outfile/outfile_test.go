package outfile

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRefusals pins every refusal message; nothing refused is touched.
func TestRefusals(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, d := range []string{"pol", "out"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, "pol/policy.cue", "package pol\n")
	write(t, "pol/notes.md", "notes\n")
	write(t, "pol/old.tar.gz", "\x1f\x8b old bundle")
	if err := syscall.Mkfifo("fifo", 0o644); err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{{"loop1", "loop2"}, {"loop2", "loop1"}, {"polink", "pol"}, {"toproc", "/dev/null"}} {
		if err := os.Symlink(l[1], l[0]); err != nil {
			t.Fatal(err)
		}
	}
	gz := func(r io.Reader) bool {
		head := make([]byte, 2)
		n, _ := io.ReadFull(r, head)
		return bytes.Equal(head[:n], []byte{0x1f, 0x8b})
	}
	protect := Options{Protect: []string{"pol"}, Ours: gz}
	for _, tc := range []struct {
		path string
		opts Options
		want string
	}{
		{"", Options{}, "no output file named"},
		{"out", Options{}, "write out: is a directory; name a file"},
		{"fifo", Options{}, "write fifo: is a named pipe, not a regular file; refusing to replace it (- writes to standard output)"},
		{"toproc", Options{}, "write toproc (a symbolic link to /dev/null): is a character device, not a regular file; refusing to replace it (- writes to standard output)"},
		{"loop1", Options{}, "write loop1: too many levels of symbolic links"},
		{"missing/b.tar.gz", Options{}, "write missing/b.tar.gz: no such directory missing"},
		{"pol/policy.cue/x", Options{}, "write pol/policy.cue/x: pol/policy.cue is not a directory"},
		{"pol/policy.cue", Options{}, "write pol/policy.cue: refusing to overwrite a .cue file (policy source)"},
		{"out/new.cue", Options{}, "write out/new.cue: refusing to write a .cue file (it would become policy source)"},
		{"pol/notes.md", protect, "write pol/notes.md: refusing to overwrite a file of the policy directory pol"},
		// The protected directory is compared after resolving links on either side.
		{"polink/notes.md", protect, "write polink/notes.md: refusing to overwrite a file of the policy directory pol"},
		{"pol/notes.md", Options{Protect: []string{"polink"}}, "write pol/notes.md: refusing to overwrite a file of the policy directory polink"},
		// OursOnly: anywhere, only a file Ours recognises; .cue included when CUE allows it.
		{"pol/policy.cue", Options{CUE: true, OursOnly: true, Ours: gz}, "write pol/policy.cue: refusing to overwrite a file this command did not write"},
		{"polink/notes.md", Options{OursOnly: true, Ours: gz}, "write polink/notes.md: refusing to overwrite a file this command did not write"},
	} {
		err := Check(tc.path, tc.opts)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Check(%q) = %v\nwant %s", tc.path, err, tc.want)
		}
		if err := Write(nil, tc.path, []byte("new"), tc.opts); err == nil || err.Error() != tc.want {
			t.Errorf("Write(%q) = %v\nwant %s", tc.path, err, tc.want)
		}
	}
	if got := read(t, "pol/policy.cue"); got != "package pol\n" {
		t.Errorf("policy.cue was changed: %q", got)
	}
	write(t, "pol/gen.cue", "\x1f\x8b generated")
	if err := Write(nil, "pol/gen.cue", []byte("again"), Options{CUE: true, OursOnly: true, Ours: gz}); err != nil || read(t, "pol/gen.cue") != "again" {
		t.Errorf("an earlier output was not replaced under OursOnly: %v", err)
	}
	if got := read(t, "pol/notes.md"); got != "notes\n" {
		t.Errorf("notes.md was changed: %q", got)
	}

	// Allowed: a new file in a protected directory, an earlier output there, a .cue file
	// when the command writes CUE.
	for _, ok := range []struct {
		path string
		opts Options
	}{
		{"pol/new.tar.gz", protect},
		{"pol/old.tar.gz", protect},
		{"pol/policy.cue", Options{CUE: true}},
		{"pol/fresh.cue", Options{CUE: true, OursOnly: true}},
	} {
		if err := Write(nil, ok.path, []byte("new"), ok.opts); err != nil {
			t.Errorf("Write(%q): %v", ok.path, err)
		} else if got := read(t, ok.path); got != "new" {
			t.Errorf("%s holds %q after Write", ok.path, got)
		}
	}
}

// TestDevice refuses a device node itself (not only a link to one): compile as root used to
// rename its bundle over /dev/full. The node here is a private copy of /dev/null.
func TestDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("creating a device node needs root")
	}
	dev := filepath.Join(t.TempDir(), "null")
	if err := syscall.Mknod(dev, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		t.Fatal(err)
	}
	err := Write(nil, dev, []byte("x"), Options{})
	want := "write " + dev + ": is a character device, not a regular file; refusing to replace it (- writes to standard output)"
	if err == nil || err.Error() != want {
		t.Fatalf("Write = %v, want %s", err, want)
	}
	fi, err := os.Lstat(dev)
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("device node replaced: %v %v", fi.Mode(), err)
	}
}

// TestThroughLinks writes the target of a chain of links, keeps the links and the target's
// permissions, and leaves no temporary file behind.
func TestThroughLinks(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.MkdirAll("real/sub", 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, "real/sub/bundle.tar.gz", "old")
	if err := os.Chmod("real/sub/bundle.tar.gz", 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real/sub", "subdir"); err != nil {
		t.Fatal(err)
	}
	// A relative link inside a linked directory: "../sub" is relative to real/sub, not to
	// the directory "subdir" sits in.
	if err := os.Symlink("../sub/bundle.tar.gz", "real/sub/inner"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("subdir/inner", "outer"); err != nil {
		t.Fatal(err)
	}
	if err := Write(nil, "outer", []byte("new"), Options{}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, "real/sub/bundle.tar.gz"); got != "new" {
		t.Errorf("target holds %q", got)
	}
	for _, l := range []string{"outer", "real/sub/inner", "subdir"} {
		if fi, err := os.Lstat(l); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s is no longer a symbolic link", l)
		}
	}
	if fi, _ := os.Stat("real/sub/bundle.tar.gz"); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want the target's 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir("real/sub")
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "bundle.tar.gz inner" {
		t.Errorf("real/sub holds %s, want bundle.tar.gz inner (no temporary file)", got)
	}

	// A dangling link: its target is created.
	if err := os.Symlink("real/fresh.tar.gz", "dangling"); err != nil {
		t.Fatal(err)
	}
	if err := Write(nil, "dangling", []byte("fresh"), Options{}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, "dangling"); got != "fresh" {
		t.Errorf("dangling link's target holds %q", got)
	}
	if fi, _ := os.Stat("real/fresh.tar.gz"); fi.Mode().Perm() != 0o644 {
		t.Errorf("new file mode %v, want 0644", fi.Mode().Perm())
	}
}

func TestStdout(t *testing.T) {
	for _, p := range []string{"-", "/dev/stdout"} {
		var b bytes.Buffer
		if err := Check(p, Options{}); err != nil {
			t.Errorf("Check(%q): %v", p, err)
		}
		if err := Write(&b, p, []byte("data"), Options{}); err != nil || b.String() != "data" {
			t.Errorf("Write(%q) = %v, wrote %q", p, err, b.String())
		}
	}
}
