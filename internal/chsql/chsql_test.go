package chsql

import "testing"

func TestQuoting(t *testing.T) {
	for in, want := range map[string]string{
		"plain": `'plain'`, "O'Brien": `'O\'Brien'`, `back\slash`: `'back\\slash'`,
		"nul\x00byte": `'nul\x00byte'`, "é": `'\xC3\xA9'`, "tab\t": `'tab\x09'`,
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string]string{"t": "`t`", "a`b": "`a\\`b`", `a\b`: "`a\\\\b`"} {
		if got := Ident(in); got != want {
			t.Errorf("Ident(%q) = %s, want %s", in, got, want)
		}
	}
}
