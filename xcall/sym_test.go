package xcall

import "testing"

// %pS and %ps as kallsyms' __sprint_symbol prints them: a module's
// function is followed by " [module]", with or without the offset.
func TestFuncSymbols(t *testing.T) {
	for _, c := range []struct {
		f      *Func
		ps, pS string
	}{
		{nil, "0x0", "0x0"},
		{&Func{Name: "nop"}, "nop", "nop+0x0/0x10"},
		{&Func{Name: "scf_handler_1", Size: 0x90, Module: "scftorture"}, "scf_handler_1 [scftorture]", "scf_handler_1+0x0/0x90 [scftorture]"},
	} {
		if got := c.f.PS(); got != c.ps {
			t.Errorf("%%ps = %q, want %q", got, c.ps)
		}
		if got := c.f.Sym(); got != c.pS {
			t.Errorf("%%pS = %q, want %q", got, c.pS)
		}
	}
}
