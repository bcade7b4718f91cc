package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/diff"
	"github.com/agentctl/agentctl/lint"
	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/report"
	"github.com/agentctl/agentctl/schema"
)

// severityNames are the values of --fail-on, most severe first.
var severityNames = []string{"critical", "high", "medium", "low", "info"}

// completions lists the flag values shell completion suggests, per command and flag; a flag
// a command does not have is skipped.
var completions = map[string]map[string]cobra.CompletionFunc{
	"check": {"output": outputValues(gateFormats...), "fail-on": fixedValues(severityNames...),
		"checks": completeChecks, "skip": completeChecks, "color": fixedValues("auto", "always", "never")},
	"lint": {"output": outputValues(gateFormats...), "fail-on": fixedValues(severityNames...),
		"checks": completeChecks, "skip": completeChecks, "framework": listValues(report.FrameworkNames()...)},
	"config": {"output": fixedValues(configFormats...), "fail-on": fixedValues(severityNames...),
		"checks": completeChecks, "skip": completeChecks},
	"checks":   {"output": fixedValues("table", "json", "markdown"), "framework": listValues(report.FrameworkNames()...)},
	"simulate": {"output": fixedValues("table", "json", "junit"), "scenario": completeScenarios, "from": completeAgents, "compromise": completeAgentList, "mode": fixedValues(policy.ModeAttenuate, policy.ModeDelegate, policy.ModeForwardCredentials)},
	"graph":    {"output": fixedValues("dot", "mermaid", "svg"), "scenario": completeScenarios},
	"test":     {"output": fixedValues(testFormats...)},
	"explain":  {"output": fixedValues(explainFormats...), "agent": completeAgents, "chain": completeAgentList},
	"diff": {"output": fixedValues("table", "markdown", "json", "github", "sarif"), "fail-on": listValues(append(slices.Clone(diff.Conditions), "none")...),
		"severity": fixedValues(severityNames...)},
}

// dirCommands take policy directories as positional arguments: completion offers
// directories only.
var dirCommands = []string{"check", "lint", "vet", "test", "diff", "simulate", "graph", "compile", "explain", "config", "watch", "init"}

// registerCompletions attaches the completion functions above to the commands of root.
func registerCompletions(root *cobra.Command) {
	for _, cmd := range root.Commands() {
		for flag, fn := range completions[cmd.Name()] {
			if cmd.Flags().Lookup(flag) != nil {
				_ = cmd.RegisterFlagCompletionFunc(flag, fn)
			}
		}
		if slices.Contains(dirCommands, cmd.Name()) && cmd.ValidArgsFunction == nil {
			cmd.ValidArgsFunction = completeDirs
		}
		if cmd.Name() == "import" {
			for _, sub := range cmd.Commands() {
				if sub.Flags().Lookup("trust") != nil {
					_ = sub.RegisterFlagCompletionFunc("trust", fixedValues("mcp", "internal", "third_party"))
				}
			}
		}
	}
}

// completeDirs completes a policy directory argument: directories only.
func completeDirs(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveFilterDirs
}

// fixedValues completes one of values.
func fixedValues(values ...string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return filterPrefix(values, toComplete, ""), cobra.ShellCompDirectiveNoFileComp
	}
}

// listValues completes a comma-separated list of values: the item after the last comma.
func listValues(values ...string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		done, last := splitList(toComplete)
		return filterPrefix(values, last, done), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}

// outputValues completes -o: a format, or after "FORMAT=" a file name.
func outputValues(formats ...string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if strings.Contains(toComplete, "=") {
			return nil, cobra.ShellCompDirectiveDefault
		}
		return filterPrefix(formats, toComplete, ""), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeChecks completes check IDs (described by slug and title), or slugs once the user
// typed a letter other than the ID prefix; lists are comma-separated.
func completeChecks(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	done, last := splitList(toComplete)
	var out []cobra.Completion
	bySlug := last != "" && !strings.HasPrefix("AC", strings.ToUpper(last[:min(2, len(last))]))
	for _, c := range lint.Checks() {
		name, desc := c.ID, c.Slug+": "+c.Title
		if bySlug {
			name, desc = c.Slug, c.ID+": "+c.Title
		}
		if strings.HasPrefix(strings.ToLower(name), strings.ToLower(last)) {
			out = append(out, cobra.CompletionWithDesc(done+name, desc))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// completeScenarios completes the scenario names of the policy directory on the command line.
func completeScenarios(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	p := completionPolicy(args)
	if p == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, s := range p.Scenarios {
		if strings.HasPrefix(s.Name, toComplete) {
			out = append(out, cobra.CompletionWithDesc(s.Name, "starts at "+s.Start))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func completeAgents(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return filterPrefix(agentNames(args), toComplete, ""), cobra.ShellCompDirectiveNoFileComp
}

func completeAgentList(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	done, last := splitList(toComplete)
	return filterPrefix(agentNames(args), last, done), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

func agentNames(args []string) []string {
	p := completionPolicy(args)
	if p == nil {
		return nil
	}
	names := make([]string, len(p.Agents))
	for i, a := range p.Agents {
		names[i] = a.Name
	}
	return names
}

// completionPolicy loads the first policy directory named on the command line (or "."),
// quietly: a policy that does not load completes nothing.
func completionPolicy(args []string) *policy.Policy {
	dir := "."
	if len(args) > 0 {
		dir = args[0]
	}
	p, err := schema.Load(dir)
	if err != nil {
		return nil
	}
	return p
}

// splitList splits "a,b,c" into "a,b," (done) and "c" (being typed).
func splitList(s string) (done, last string) {
	i := strings.LastIndex(s, ",")
	return s[:i+1], s[i+1:]
}

func filterPrefix(values []string, prefix, done string) []cobra.Completion {
	var out []cobra.Completion
	for _, v := range values {
		if strings.HasPrefix(v, prefix) {
			out = append(out, done+v)
		}
	}
	return out
}
