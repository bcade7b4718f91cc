package schema

import _ "embed"

//go:embed starter.cue.txt
var starterPolicy []byte

// File is a file that init writes, relative to the policy directory.
type File struct {
	Name string
	Data []byte
}

// Starter returns the files of a new policy: a commented policy that passes every check,
// a CUE module file, and the schema under cue.mod so editors and cue tooling see it.
func Starter() []File {
	return []File{
		{Name: "policy.cue", Data: starterPolicy},
		{Name: "cue.mod/module.cue", Data: []byte("module: \"example.com/agent-policy\"\nlanguage: version: \"v0.17.0\"\n")},
		{Name: "cue.mod/pkg/agentctl.dev/schema/schema.cue", Data: Source},
	}
}
