package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/agentctl/agentctl/diff"
	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/schema"
)

func main() {
	f, _ := os.Create("/tmp/diff.prof")
	pprof.StartCPUProfile(f)
	t := time.Now()
	var ps [2]*policy.Policy
	var wg sync.WaitGroup
	for i, d := range os.Args[1:3] {
		wg.Add(1)
		go func() { defer wg.Done(); ps[i], _ = schema.Load(d) }()
	}
	wg.Wait()
	fmt.Println("load", time.Since(t))
	t = time.Now()
	r, err := diff.Run(ps[0], ps[1], diff.Options{})
	fmt.Println("diff", time.Since(t), err, r.Summary)
	pprof.StopCPUProfile()
}
