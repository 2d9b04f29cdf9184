package machines

import (
	"strings"
	"testing"
)

// TestNames checks the rule for machine names, which a report's header
// carries on one line.
func TestNames(t *testing.T) {
	rest := x86File[strings.Index(x86File, "\n")+1:]
	for _, tc := range []struct{ name, want string }{
		{`"a\n--! seed: 99"`, `x.toml: line 1: key name: "a\n--! seed: 99" is not a machine name: it may hold only A-Z a-z 0-9 . _ + -, not '\n'`},
		{`"x y"`, `x.toml: line 1: key name: "x y" is not a machine name: it may hold only A-Z a-z 0-9 . _ + -, not ' '`},
		{`"a\rb"`, `x.toml: line 1: key name: "a\rb" is not a machine name: it may hold only A-Z a-z 0-9 . _ + -, not '\r'`},
		{`"é"`, `x.toml: line 1: key name: "é" is not a machine name: it may hold only A-Z a-z 0-9 . _ + -, not 'é'`},
		{`"` + strings.Repeat("a", 65) + `"`, `x.toml: line 1: key name: a name of 65 bytes is too long (at most 64)`},
		{`""`, `x.toml: line 1: key name: must not be empty`},
		{`"` + strings.Repeat("a", 64) + `"`, ""},
		{`"A-Za-z0-9._+-"`, ""},
	} {
		_, err := Parse("x.toml", []byte("name = "+tc.name+"\n"+rest))
		if got := errText(err); got != tc.want {
			t.Errorf("name = %s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	for _, i := range Builtins() {
		if err := CheckName(i.Name); err != nil {
			t.Errorf("built-in %q: %v", i.Name, err)
		}
	}
	// A Spec built in Go obeys the same rule.
	s, err := Builtin("x86-4")
	if err != nil {
		t.Fatal(err)
	}
	s.Name = "x86-4\n--! seed: 99"
	if err := s.Validate(); errText(err) != `key name: "x86-4\n--! seed: 99" is not a machine name: it may hold only A-Z a-z 0-9 . _ + -, not '\n'` {
		t.Errorf("Validate: %v", err)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
