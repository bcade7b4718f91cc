package policy

import "testing"

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"billing":               "billing",
		"t6 \x00":               `t6 \x00`,
		"a\nb":                  `a\nb`,
		"evil\u202etxt.exe":     `evil\u202etxt.exe`,
		"tab\there":             `tab\there`,
		"bad\xffutf8":           `bad\xffutf8`,
		"déjà vu 中":             "déjà vu 中",
		`already "quoted\n"`:    `already "quoted\n"`,
		"zero\u200bwidth\u00a0": `zero\u200bwidth\u00a0`,
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestEscapeLines(t *testing.T) {
	in := "load pol:\n\tpolicy.cue:3:1: server said \x1b]0;pwned\x07 and \u202eevil\n\tdone"
	want := "load pol:\n\tpolicy.cue:3:1: server said \\x1b]0;pwned\\a and \\u202eevil\n\tdone"
	if got := EscapeLines(in); got != want {
		t.Errorf("EscapeLines = %q\nwant %q", got, want)
	}
	if got := EscapeLines("plain\n\tindented"); got != "plain\n\tindented" {
		t.Errorf("EscapeLines changed plain text: %q", got)
	}
}
