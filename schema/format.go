package schema

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/parser"
)

// Format formats one CUE file as `cue fmt` does, with CUE's own formatter. A syntax error is
// returned as file:line:col: message.
func Format(filename string, src []byte) ([]byte, error) {
	f, err := parser.ParseFile(filename, src, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("%s", errorText(err))
	}
	return format.Node(f)
}

func errorText(err error) string {
	var msg string
	for i, e := range errors.Errors(err) {
		if i > 0 {
			msg += "\n"
		}
		pos := e.Position()
		format, args := e.Msg()
		msg += fmt.Sprintf("%s: %s", pos, fmt.Sprintf(format, args...))
	}
	return msg
}

// PolicyFiles lists the files of the policy in dir (see IsPolicyFile), sorted.
func PolicyFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && IsPolicyFile(e.Name()) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}
