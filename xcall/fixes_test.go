package xcall

import (
	"testing"

	"github.com/xcallsh/xcallsh/machines"
)

// Every FixID has an entry, names are unique, and an unknown name is
// refused everywhere rather than read as applied.
func TestFixes(t *testing.T) {
	spec, err := machines.Builtin("x86-4")
	if err != nil {
		t.Fatal(err)
	}
	k, err := Boot(spec, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	for i, f := range Fixes {
		id := FixID(i)
		if f.Name == "" || f.Commit == "" || f.Title == "" {
			t.Errorf("fix %d: empty entry %+v", i, f)
		}
		if got, ok := LookupFix(f.Name); !ok || got != id || id.String() != f.Name {
			t.Errorf("LookupFix(%q) = %v, %v", f.Name, got, ok)
		}
		if !k.Fix(id) {
			t.Errorf("%v off at boot", id)
		}
		if !k.SetFix(f.Name, false) || k.Fix(id) {
			t.Errorf("%v: SetFix(off) did not take", id)
		}
		if on, ok := k.FixApplied(f.Name); on || !ok {
			t.Errorf("FixApplied(%q) = %v, %v after turning it off", f.Name, on, ok)
		}
	}
	if IsFix("no_such_fix") || k.SetFix("no_such_fix", true) {
		t.Error("an unknown fix was accepted")
	}
	if on, ok := k.FixApplied("no_such_fix"); on || ok {
		t.Errorf("FixApplied(unknown) = %v, %v", on, ok)
	}
}
