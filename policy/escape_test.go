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
