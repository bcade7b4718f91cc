package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
	"time"

	"github.com/agentctl/agentctl/diff"
	"github.com/agentctl/agentctl/internal/gen"
	"github.com/agentctl/agentctl/schema"
)

// BenchmarkDiff measures `agentctl diff` on generated estates against `agentctl vet` of one
// version, interleaved in the same run: a one-hand-off change (the first attenuating
// hand-off delegates) and a 1% change (every hundredth hand-off changes its mode). It
// reports the medians, their ratio and how many start agents had their reach recomputed.
//
//	go test -run '^$' -bench 'BenchmarkDiff/agents=10000$/change=one-handoff' -benchtime 5x ./cmd/agentctl
func BenchmarkDiff(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		src := string(gen.Estate(gen.Options{Agents: n, Seed: 1}))
		for _, change := range []string{"one-handoff", "1pct"} {
			b.Run(fmt.Sprintf("agents=%d/change=%s", n, change), func(b *testing.B) {
				dir := b.TempDir()
				write := func(side, text string) string {
					d := filepath.Join(dir, side)
					if err := os.MkdirAll(d, 0o755); err != nil {
						b.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(d, gen.FileName), []byte(text), 0o644); err != nil {
						b.Fatal(err)
					}
					return d
				}
				base, head := write("base", src), write("head", edit(src, change))
				bp, hp, changed, err := schema.LoadPair(base, head)
				if err != nil || changed == nil {
					b.Fatalf("LoadPair: derived=%v, %v", changed != nil, err)
				}
				res, err := diff.Run(bp, hp, diff.Options{Scope: &diff.Scope{Container: changed.Container, Names: changed.Names, Edges: changed.Edges}})
				if err != nil {
					b.Fatal(err)
				}
				bp, hp, res.Reach = nil, nil, nil
				var vet, dif []time.Duration
				b.ResetTimer()
				for range b.N {
					runtime.GC()
					t := time.Now()
					if code := run([]string{"vet", head}, io.Discard, io.Discard); code != 0 {
						b.Fatalf("vet exited %d", code)
					}
					vet = append(vet, time.Since(t))
					runtime.GC()
					t = time.Now()
					if code := run([]string{"diff", "--fail-on", "none", "-o", "json", base, head}, io.Discard, io.Discard); code != 0 {
						b.Fatalf("diff exited %d", code)
					}
					dif = append(dif, time.Since(t))
				}
				b.StopTimer()
				mv, md := median(vet), median(dif)
				b.ReportMetric(float64(mv.Milliseconds()), "vet-ms")
				b.ReportMetric(float64(md.Milliseconds()), "diff-ms")
				b.ReportMetric(float64(md)/float64(mv), "diff/vet")
				b.ReportMetric(float64(res.Summary.StartsRecomputed), "starts-recomputed")
				b.ReportMetric(float64(res.Summary.Starts), "starts")
			})
		}
	}
}

// edit makes the benchmark's change to a generated estate's source.
func edit(src, change string) string {
	i := 0
	return regexp.MustCompile(`\t\{from: "[^"]+", to: "[^"]+", mode: "([a-z_]+)"\},`).ReplaceAllStringFunc(src, func(m string) string {
		i++
		switch {
		case change == "one-handoff" && i > 1:
			return m
		case change == "1pct" && i%100 != 0:
			return m
		}
		for _, x := range [][2]string{{`"attenuate"`, `"delegate"`}, {`"delegate"`, `"attenuate"`}, {`"forward_credentials"`, `"attenuate"`}} {
			if r := regexp.MustCompile(x[0]); r.MatchString(m) {
				return r.ReplaceAllString(m, x[1])
			}
		}
		return m
	})
}
