package report

import (
	"bytes"
	"testing"
)

func TestTableASCII(t *testing.T) {
	var b bytes.Buffer
	if err := Table(&b, []string{"ID", "message"}, [][]string{{"AC001", "agent billing has no identity, which is long"}}, false); err != nil {
		t.Fatal(err)
	}
	want := `+-------+----------------------------------------------+
| ID    | message                                      |
+-------+----------------------------------------------+
| AC001 | agent billing has no identity, which is long |
+-------+----------------------------------------------+
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
