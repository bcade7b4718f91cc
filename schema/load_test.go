package schema

import (
	"fmt"
	"os"
	"testing"
)

func TestLoadScratch(t *testing.T) {
	dir := os.Getenv("LOADDIR")
	if dir == "" {
		t.Skip()
	}
	p, err := Load(dir)
	fmt.Println(err)
	if p != nil {
		fmt.Println(len(p.Agents), len(p.Tools), p.Ignores)
	}
}
