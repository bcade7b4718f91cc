// Command agentctl is policy-as-code for AI agents: it lints, simulates and compiles agent
// access policies written in CUE. This package only wires flags to the library packages.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
