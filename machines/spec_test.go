package machines

import "testing"

func TestIsX86(t *testing.T) {
	for _, name := range []string{"x86-4", "arm64-8"} {
		s, err := Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := s.IsX86(), s.Arch == ArchX86; got != want {
			t.Errorf("%s: IsX86() = %v", name, got)
		}
	}
	if !(&Spec{Arch: ArchX86}).IsX86() || (&Spec{Arch: ArchARM64}).IsX86() {
		t.Error("IsX86 does not follow Arch")
	}
}
