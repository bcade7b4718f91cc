package infile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small.json")
	if err := os.WriteFile(small, []byte("12345678"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if got, err := Read(small, 8); err != nil || string(got) != "12345678" {
		t.Errorf("Read(small, 8) = %q, %v", got, err)
	}
	for _, c := range []struct {
		path  string
		limit int64
		want  string
	}{
		{small, 7, small + " is larger than 7 bytes"},
		{fifo, 1 << 20, fifo + " is a named pipe, not a regular file"}, // returns at once: no writer needed
		{dir, 1 << 20, dir + " is a directory, not a regular file"},
		{"/dev/zero", 64 << 20, "/dev/zero is a character device, not a regular file"},
		{filepath.Join(dir, "missing"), 1, "open " + filepath.Join(dir, "missing") + ": no such file or directory"},
	} {
		if _, err := Read(c.path, c.limit); err == nil || err.Error() != c.want {
			t.Errorf("Read(%s, %d): error %v, want %s", c.path, c.limit, err, c.want)
		}
	}
}
