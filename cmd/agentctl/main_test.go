package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/agentctl/agentctl/internal/testtool"
)

var update = flag.Bool("update", false, "rewrite testscript expectations and golden files")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"agentctl":    func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
		"mcp-rugpull": func() { os.Exit(rugPull(os.Args[1:])) },
		"mcp-canned":  func() { os.Exit(cannedServer(os.Args[1:])) },
		// mcp-silent is a server that logs to stderr and never answers (bounded to 20s).
		"mcp-silent": func() {
			fmt.Fprintln(os.Stderr, "fetching package...")
			time.Sleep(20 * time.Second)
		},
	})
}

// TestScript runs the CLI scenarios under testdata/script. $REPO points at the repository
// root so scripts can use the bundled examples.
func TestScript(t *testing.T) {
	if testtool.RequireAll() {
		// Scripts guard Graphviz steps with [exec:dot]; CI must not skip them silently.
		testtool.Look(t, "dot")
	}
	// The real MCP server that import_mcp_npm.txtar imports (.ci/run installs it from npm).
	mcpServer, mcpErr := testtool.NPMBin(npmMCPServer)
	if mcpErr != nil && testtool.RequireAll() {
		t.Fatalf("%v (%s=1 requires it)", mcpErr, testtool.RequireAllEnv)
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *update,
		Setup: func(env *testscript.Env) error {
			env.Setenv("REPO", repo)
			env.Setenv("MCP_SERVER", mcpServer)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"mkfifo":   cmdMkfifo,
			"filetype": cmdFiletype,
			"exits":    cmdExits,
			// cue runs the pinned cue binary (go.mod's tool directive), built on first use.
			"cue": func(ts *testscript.TestScript, neg bool, args []string) {
				err := ts.Exec(testtool.Go(t, "cuelang.org/go/cmd/cue"), args...)
				if err != nil && !neg {
					ts.Fatalf("cue %s: %v", strings.Join(args, " "), err)
				}
				if err == nil && neg {
					ts.Fatalf("cue %s: unexpected success", strings.Join(args, " "))
				}
			},
		},
		Condition: func(cond string) (bool, error) {
			if cond == "mcpserver" {
				return mcpErr == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	})
}

// cmdMkfifo creates a named pipe: mkfifo PATH.
func cmdMkfifo(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mkfifo PATH")
	}
	ts.Check(syscall.Mkfifo(ts.MkAbs(args[0]), 0o644))
}

// cmdExits runs a command like exec and asserts its exact exit status, which `! exec`
// leaves open (1, the policy failed, and 2, bad input, both pass it):
// exits STATUS COMMAND ARGS...; stdout and stderr are kept for the next assertions.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits STATUS COMMAND [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	var ee *exec.ExitError
	switch err := ts.Exec(args[1], args[2:]...); {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s: exit status %d, want %d", strings.Join(args[1:], " "), got, want)
	}
}

// cmdFiletype asserts the type of a file without following a symbolic link:
// filetype PATH regular|symlink|dir|fifo|chardev.
func cmdFiletype(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: filetype PATH regular|symlink|dir|fifo|chardev")
	}
	fi, err := os.Lstat(ts.MkAbs(args[0]))
	ts.Check(err)
	var got string
	switch m := fi.Mode(); {
	case m.IsRegular():
		got = "regular"
	case m&fs.ModeSymlink != 0:
		got = "symlink"
	case m.IsDir():
		got = "dir"
	case m&fs.ModeNamedPipe != 0:
		got = "fifo"
	case m&fs.ModeCharDevice != 0:
		got = "chardev"
	default:
		got = m.Type().String()
	}
	if got != args[1] {
		ts.Fatalf("%s is a %s, want %s", args[0], got, args[1])
	}
}
