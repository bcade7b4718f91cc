package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/config"
	"github.com/agentctl/agentctl/internal/outfile"
	"github.com/agentctl/agentctl/mcp"
	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/report"
)

func newImportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import tool catalogues from MCP servers and agent skeletons from A2A Agent Cards",
		Long: `Import writes policy blocks from what servers say about themselves: 'import mcp' turns an
MCP server's tools/list into a pinned tools: block and checks a server against the pins;
'import a2a' turns an A2A Agent Card into an agents: skeleton. See docs/import.md.`,
		Args: noSubcommand,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newImportMCPCmd(), newImportA2ACmd())
	return cmd
}

type importMCPFlags struct {
	stdio, url  string
	tool        string
	trust       string
	data        string
	auth        string
	pkg         string
	output      string
	ignoreHints bool
	check       bool
	timeout     time.Duration
}

func newImportMCPCmd() *cobra.Command {
	var f importMCPFlags
	cmd := &cobra.Command{
		Use:   "mcp [SOURCE] --tool NAME | --check [SOURCE] [DIR]",
		Short: "Import an MCP server's tools as a pinned tools: block, or check a server against the pins",
		Long: `Import reads an MCP server's tools/list and writes a formatted CUE file with one tools: block:
one action per MCP tool, its effect from the tool's annotations (readOnlyHint: true -> read;
not read-only and destructiveHint: false -> write; otherwise delete, the MCP defaults being the
worst case), external from openWorldHint, and a pin of what the model sees (the tool's name,
hashes of its description and input schema, its annotations). Comments say which hints each
effect came from and what to review.

The catalogue comes from SOURCE, a JSON file holding a tools/list result or the JSON-RPC
response carrying it ('-' for stdin), or from a live server through the official MCP Go SDK:
--stdio "CMD ARGS" starts the server as a subprocess, --url speaks Streamable HTTP. A
subprocess's stderr goes to agentctl's stderr, each line prefixed "mcp server: " (stdout
carries only the result). --timeout (default 30s) bounds starting the server, the MCP
handshake (initialize) and tools/list; the first run of an npx or uvx server may spend
longer downloading it.

With --check, the catalogue is compared with the pins of a policy directory (DIR, default .):
tools added on the server, pinned tools removed, changed descriptions or input schemas, and
annotations that widen (a read-only tool that no longer says so) or narrow are reported with
their positions in the policy. --tool names the tools: block; it may be left out when exactly
one block has pins.

-o is the output file when importing (default stdout) and the format when checking: table,
json, sarif or github. Exit status: 0 done (no drift), 1 drift, 2 the input or the invocation
is wrong (or the server could not be reached).`,
		Example: `  agentctl import mcp tools.json --tool files -o policy/files.cue
  agentctl import mcp --stdio "npx -y @modelcontextprotocol/server-filesystem /srv" --tool files
  agentctl import mcp --url http://127.0.0.1:8080/mcp --tool search --trust third_party
  agentctl import mcp --check --stdio "npx -y @modelcontextprotocol/server-filesystem /srv" policy/
  agentctl import mcp --check tools.json policy/ --tool files -o sarif > drift.sarif`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.validate(args); err != nil {
				return inputError(err)
			}
			if f.check {
				return f.runCheck(cmd, args)
			}
			return f.runImport(cmd, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.stdio, "stdio", "", `start the server with this command line and speak MCP over its stdin/stdout`)
	fl.StringVar(&f.url, "url", "", "speak MCP to the server at this Streamable HTTP endpoint")
	fl.StringVar(&f.tool, "tool", "", "the name of the tools: block")
	fl.StringVar(&f.trust, "trust", "mcp", "source of the tool block: mcp, internal or third_party")
	fl.StringVar(&f.data, "data", policy.DataConfidential, "data class of every action, to review: public, internal, confidential or regulated")
	fl.StringVar(&f.auth, "auth", "shared_token", "auth.kind of the tool block, to review: workload_identity, ephemeral_token, shared_token or static_key")
	fl.StringVar(&f.pkg, "package", "", "package clause of the generated file (none by default: agentctl joins it to the directory's package)")
	fl.BoolVar(&f.ignoreHints, "ignore-hints", false, "ignore the server's annotations: every tool is destructive and open-world")
	fl.BoolVar(&f.check, "check", false, "compare the server with the pins of the policy in DIR; exit 1 on drift")
	fl.StringVarP(&f.output, "output", "o", "", "output file when importing (default stdout); format when checking: table, json, sarif or github")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "give up on a live server (--stdio, --url) that has not answered initialize and tools/list after this long; a first npx run may need minutes")
	return cmd
}

func (f *importMCPFlags) validate(args []string) error {
	live := 0
	for _, s := range []string{f.stdio, f.url} {
		if s != "" {
			live++
		}
	}
	if live > 1 {
		return errors.New("--stdio and --url exclude each other")
	}
	maxArgs := 1 // SOURCE
	if f.check {
		maxArgs++ // DIR
	}
	if live > 0 {
		maxArgs-- // the server is the source
	}
	switch {
	case live == 0 && len(args) == 0:
		return errors.New("name the catalogue: a tools/list JSON file, - for stdin, --stdio CMD or --url URL")
	case len(args) > maxArgs && f.check:
		return fmt.Errorf("too many arguments: want [SOURCE] [DIR], got %q", args)
	case len(args) > maxArgs:
		return fmt.Errorf("too many arguments: want one SOURCE, got %q (a policy directory is only read with --check)", args)
	}
	if f.check {
		if f.output == "" {
			f.output = "table"
		}
		if !slices.Contains([]string{"table", "json", "sarif", "github"}, f.output) {
			return fmt.Errorf("unknown output format %q (want table, json, sarif or github; -o names a file only when importing)", f.output)
		}
		return nil
	}
	if f.tool == "" {
		return errors.New("--tool NAME is required: the name of the tools: block to write")
	}
	if !slices.Contains([]string{"mcp", "internal", "third_party"}, f.trust) {
		return fmt.Errorf("--trust %q: want mcp, internal or third_party", f.trust)
	}
	if !slices.Contains([]string{policy.DataPublic, policy.DataInternal, policy.DataConfidential, policy.DataRegulated}, f.data) {
		return fmt.Errorf("--data %q: want public, internal, confidential or regulated", f.data)
	}
	if !slices.Contains([]string{"workload_identity", "ephemeral_token", "shared_token", "static_key"}, f.auth) {
		return fmt.Errorf("--auth %q: want workload_identity, ephemeral_token, shared_token or static_key", f.auth)
	}
	return nil
}

// catalogue reads the tools/list result from the file argument or the live server.
func (f *importMCPFlags) catalogue(cmd *cobra.Command, args []string) (cat *mcp.Catalogue, from string, rest []string, err error) {
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	defer cancel()
	switch {
	case f.stdio != "":
		t, err := mcp.Command(ctx, f.stdio, cmd.ErrOrStderr())
		if err != nil {
			return nil, "", nil, inputError(fmt.Errorf("--stdio: %w", err))
		}
		cat, err = mcp.Fetch(ctx, t)
		var te *mcp.TimeoutError
		if errors.As(err, &te) {
			return nil, "", nil, inputError(fmt.Errorf("MCP server %q did not answer %s within %s (--timeout); a first run of npx or uvx may still be downloading the server: run it once by hand, or raise --timeout, e.g. --timeout 3m", f.stdio, te.Step, f.timeout))
		}
		if err != nil {
			return nil, "", nil, inputError(fmt.Errorf("MCP server %q: %w", f.stdio, err))
		}
		return cat, fmt.Sprintf("--stdio %q", f.stdio), args, nil
	case f.url != "":
		cat, err = mcp.Fetch(ctx, mcp.HTTP(f.url))
		var te *mcp.TimeoutError
		if errors.As(err, &te) {
			return nil, "", nil, inputError(fmt.Errorf("MCP server %s did not answer %s within %s (--timeout): raise --timeout if it is slow", f.url, te.Step, f.timeout))
		}
		if err != nil {
			return nil, "", nil, inputError(fmt.Errorf("MCP server %s: %w", f.url, err))
		}
		return cat, f.url, args, nil
	}
	src, err := readSource(cmd, args[0], func(r io.Reader) error {
		cat, err = mcp.Read(r)
		return err
	})
	if err != nil {
		return nil, "", nil, err
	}
	return cat, src, args[1:], nil
}

func (f *importMCPFlags) runImport(cmd *cobra.Command, args []string) error {
	cat, from, _, err := f.catalogue(cmd, args)
	if err != nil {
		return err
	}
	out, err := mcp.Generate(cat, mcp.Options{Tool: f.tool, Source: f.trust, Data: f.data, Auth: f.auth,
		IgnoreHints: f.ignoreHints, Package: f.pkg, From: from})
	if err != nil {
		return inputError(err)
	}
	return writeImport(cmd, f.output, out, fmt.Sprintf("tools.%s with %d actions", f.tool, len(cat.Tools)))
}

func (f *importMCPFlags) runCheck(cmd *cobra.Command, args []string) error {
	cat, _, rest, err := f.catalogue(cmd, args)
	if err != nil {
		return err
	}
	dir, err := policyDir(cmd, rest)
	if err != nil {
		return err
	}
	p, err := loadOne(cmd, dir)
	if err != nil {
		return err
	}
	t, err := pinnedTool(p, f.tool)
	if err != nil {
		return inputError(err)
	}
	drift := mcp.Compare(cat, p, t)
	doc := report.DriftFindings(drift, p.Files)
	doc.Version, _, _ = buildVersion()
	root := config.RepoRoot(p.Dir) // code scanning maps repository-relative paths only
	w := cmd.OutOrStdout()
	ok, err := findingsDocument(w, f.output, doc, root)
	failing := 0
	for _, d := range drift {
		if d.Failing() {
			failing++
		}
	}
	switch {
	case ok: // json, sarif or github: written
	case len(drift) == 0:
		_, err = fmt.Fprintf(w, "no drift: %s matches its %d pinned tools\n", t.Path(), pinCount(t))
	default:
		err = report.FindingsTable(w, doc, nil, isTerminal(w))
	}
	if err != nil {
		return fmt.Errorf("write %s output: %w", f.output, err)
	}
	if failing > 0 {
		return errPolicyFailed
	}
	return nil
}

// pinnedTool returns the named tool, or the only tool with pins when name is empty.
func pinnedTool(p *policy.Policy, name string) (*policy.Tool, error) {
	if name != "" {
		t := p.Tool(name)
		switch {
		case t == nil:
			return nil, fmt.Errorf("%s: no tool %q", p.Dir, name)
		case pinCount(t) == 0:
			return nil, fmt.Errorf("%s: tools.%s has no pins to check (write them with agentctl import mcp)", p.Dir, name)
		}
		return t, nil
	}
	var pinned []string
	var found *policy.Tool
	for _, t := range p.Tools {
		if pinCount(t) > 0 {
			pinned, found = append(pinned, t.Name), t
		}
	}
	switch len(pinned) {
	case 0:
		return nil, fmt.Errorf("%s: no tool has pins to check (write them with agentctl import mcp)", p.Dir)
	case 1:
		return found, nil
	}
	return nil, fmt.Errorf("%s: several tools have pins (%s): name one with --tool", p.Dir, strings.Join(pinned, ", "))
}

func pinCount(t *policy.Tool) int {
	n := 0
	for _, a := range t.Actions {
		if a.Pin != nil {
			n++
		}
	}
	return n
}

func newImportA2ACmd() *cobra.Command {
	var agent, output, pkg, cardURL string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "a2a CARD | --url URL",
		Short: "Write an agents: skeleton from an A2A Agent Card",
		Long: `Import reads an A2A Agent Card (JSON, as served at /.well-known/agent-card.json; '-' for
stdin) and writes a formatted CUE file with an agents: skeleton for an agent your estate hands
tasks to: the card's name, description and provider (as owner), and its skills and security
requirements as comments to review. It reads A2A 0.3 and 1.0 cards. --url fetches the card
from an agent: https://host reads https://host/.well-known/agent-card.json (a URL with a path
is read as given); plain http only for 127.0.0.1, ::1 and localhost; at most 1 MiB, within
--timeout.

A card describes what an agent offers, never what it may do: the skeleton grants nothing and
carries no identity or credential. Those are yours to write.`,
		Example: `  curl -s https://agent.example/.well-known/agent-card.json > card.json
  agentctl import a2a card.json -o policy/currency.cue
  agentctl import a2a card.json --agent fx-rates
  agentctl import a2a --url https://agent.example -o policy/agent.cue`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var card *mcp.AgentCard
			var src string
			switch {
			case cardURL != "" && len(args) > 0:
				return inputError(errors.New("give a CARD file or --url, not both"))
			case cardURL != "":
				ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
				defer cancel()
				var err error
				if card, src, err = mcp.FetchAgentCard(ctx, cardURL); err != nil {
					return inputError(fmt.Errorf("--url: %w", err))
				}
			case len(args) == 0:
				return inputError(errors.New("name the card: a JSON file, - for stdin, or --url URL"))
			default:
				var err error
				src, err = readSource(cmd, args[0], func(r io.Reader) (err error) {
					card, err = mcp.ReadAgentCard(r)
					return err
				})
				if err != nil {
					return err
				}
			}
			name := agent
			if name == "" {
				name = mcp.AgentName(card.Name)
			}
			out, err := mcp.GenerateAgent(card, name, src, pkg)
			if err != nil {
				return inputError(err)
			}
			return writeImport(cmd, output, out, "agents."+name)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&agent, "agent", "", "the name of the agents: entry (default: derived from the card's name)")
	fl.StringVarP(&output, "output", "o", "", "write the CUE to this file (default stdout)")
	fl.StringVar(&pkg, "package", "", "package clause of the generated file (none by default)")
	fl.StringVar(&cardURL, "url", "", "fetch the card from the agent at this URL (https://host: its /.well-known/agent-card.json)")
	fl.DurationVar(&timeout, "timeout", 30*time.Second, "give up fetching the card after this long")
	return cmd
}

// writeImport writes generated CUE to stdout, or to path with a note on stderr.
func writeImport(cmd *cobra.Command, path string, out []byte, element string) error {
	if path == "" || path == "-" {
		_, err := cmd.OutOrStdout().Write(out)
		return err
	}
	// The output is CUE on purpose: re-importing replaces the earlier file, recognised by its
	// header, and nothing else (a hand-written policy.cue, a README). The rest of the outfile
	// rules hold: no FIFOs, devices or directories, links written through, atomic.
	dest := outfile.Options{CUE: true, OursOnly: true, Ours: mcp.IsGenerated}
	if err := outfile.Write(cmd.OutOrStdout(), path, out, dest); err != nil {
		return inputError(err)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "agentctl: wrote %s: %s; review the lines marked \"review\"\n", path, element)
	return nil
}

// readSource calls read on the named file, or on stdin for "-", and returns the name to show.
func readSource(cmd *cobra.Command, src string, read func(io.Reader) error) (string, error) {
	var r io.Reader = cmd.InOrStdin()
	if src == "-" {
		src = "stdin"
	} else {
		file, err := os.Open(src)
		if err != nil {
			return src, inputError(err)
		}
		defer file.Close()
		r = file
	}
	if err := read(r); err != nil {
		if pe := (*mcp.PosError)(nil); errors.As(err, &pe) {
			return src, inputError(fmt.Errorf("%s:%d:%d: %s", src, pe.Line, pe.Col, pe.Msg))
		}
		return src, inputError(fmt.Errorf("%s: %w", src, err))
	}
	return src, nil
}
