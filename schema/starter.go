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
// the schema copy (CopyName) so that cue tooling and editors apply the schema, and a CUE
// module file so that they treat the directory as a module.
func Starter() ([]File, error) {
	cp, err := Copy("policy")
	if err != nil {
		return nil, err
	}
	return []File{
		{Name: "policy.cue", Data: starterPolicy},
		{Name: CopyName, Data: cp},
		{Name: "cue.mod/module.cue", Data: []byte("module: \"example.com/agent-policy\"\nlanguage: version: \"v0.17.0\"\n")},
	}, nil
}
