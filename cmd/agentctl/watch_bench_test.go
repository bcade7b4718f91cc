package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"
)

// BenchmarkWatchLatency measures what a user waits for in `agentctl watch`: from the save
// of a policy file to the printed result (the status line), through the real command with
// its default 100 ms debounce. It reports medians: latency per save, and the check run
// inside it (taken from the status line), on the largest bundled example and on a
// generated 1,000-agent estate.
//
//	go test -run '^$' -bench BenchmarkWatchLatency -benchtime 15x ./cmd/agentctl
func BenchmarkWatchLatency(b *testing.B) {
	largest, size := "", int64(0)
	examples, _ := filepath.Glob("../../scenarios/*")
	for _, dir := range examples {
		var n int64
		files, _ := filepath.Glob(filepath.Join(dir, "*.cue"))
		for _, f := range files {
			if fi, err := os.Stat(f); err == nil {
				n += fi.Size()
			}
		}
		if n > size {
			largest, size = dir, n
		}
	}
	if largest == "" {
		b.Fatal("no example under scenarios/")
	}
	b.Run("example="+filepath.Base(largest), func(b *testing.B) {
		benchWatch(b, copyDir(b, largest))
	})
	b.Run("agents=1000", func(b *testing.B) {
		dir := b.TempDir()
		if code := run([]string{"gen", "--agents", "1000", "--seed", "1", dir}, io.Discard, io.Discard); code != 0 {
			b.Fatalf("gen exited %d", code)
		}
		benchWatch(b, dir)
	})
}

// statusWriter passes each watch status line's check duration to a channel.
type statusWriter chan time.Duration

func (s statusWriter) Write(p []byte) (int, error) {
	if m := statusLine.FindSubmatch(p); m != nil {
		d := time.Duration(-1)
		if dm := afterRE.FindSubmatch(p); dm != nil {
			d, _ = time.ParseDuration(string(dm[1]))
		}
		s <- d
	}
	return len(p), nil
}

func benchWatch(b *testing.B, dir string) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.cue"))
	if len(files) == 0 {
		b.Fatalf("no .cue file in %s", dir)
	}
	slices.Sort(files)
	file := files[0]
	orig, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	status := make(statusWriter, 16)
	root := newRootCmd(io.Discard, status)
	root.SetArgs([]string{"watch", dir})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	next := func() time.Duration {
		select {
		case d := <-status:
			return d
		case <-time.After(2 * time.Minute):
			b.Fatal("no result printed within 2m")
			return 0
		}
	}
	next() // the initial run

	var latency, check []time.Duration
	b.ResetTimer()
	for i := range b.N {
		content := fmt.Appendf(slices.Clone(orig), "\n// save %d\n", i)
		start := time.Now()
		if err := os.WriteFile(file, content, 0o644); err != nil {
			b.Fatal(err)
		}
		check = append(check, next())
		latency = append(latency, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(float64(median(latency))/1e6, "ms-save-to-result-median")
	b.ReportMetric(float64(median(check))/1e6, "ms-check-median")
}

var afterRE = regexp.MustCompile(`exit status \d after ([^;]+);`)

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
