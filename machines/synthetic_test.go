package machines

import (
	"reflect"
	"testing"
)

func TestSynthetic(t *testing.T) {
	for _, tc := range []struct {
		arch        Arch
		kind, mode  string
		cpus, csize int
	}{
		{ArchX86, "x2apic", "cluster", 8192, 0},
		{ArchX86, "x2apic", "", 1, 0},
		{ArchX86, "xapic", "physical", 255, 0},
		{ArchX86, "xapic", "flat", 8, 0},
		{ArchARM64, "gicv3", "", 8192, 0},
		{ArchARM64, "gicv3", "physical", 100, 1},
		{ArchARM64, "gicv3", "", 300, 256},
	} {
		s := Synthetic(tc.arch, tc.kind, tc.mode, tc.cpus, tc.csize)
		if s.CPUs != tc.cpus || s.Arch != tc.arch || s.IRQChip.Kind != tc.kind || len(s.Online) != tc.cpus || len(s.CPUNode) != tc.cpus {
			t.Errorf("Synthetic%v = %+v", tc, s.IRQChip)
		}
		if err := s.Validate(); err != nil {
			t.Errorf("Synthetic%v: Validate: %v", tc, err)
		}
		again, err := Parse("again.toml", []byte(s.Source))
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Errorf("Synthetic%v does not round-trip: %v", tc, err)
		}
	}
}

func TestSyntheticPanics(t *testing.T) {
	for _, tc := range []struct {
		arch        Arch
		kind, mode  string
		cpus, csize int
	}{
		{ArchX86, "xapic", "", 300, 0},
		{ArchX86, "x2apic", "", 4, 16},
		{ArchX86, "x2apic", "", 0, 0},
		{ArchARM64, "gicv3", "cluster", 4, 0},
		{"pdp11", "x\"\n", "", 4, 0},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Synthetic%v did not panic", tc)
				}
			}()
			Synthetic(tc.arch, tc.kind, tc.mode, tc.cpus, tc.csize)
		}()
	}
}

func BenchmarkSynthetic8192(b *testing.B) {
	for b.Loop() {
		Synthetic(ArchX86, "x2apic", "cluster", 8192, 0)
	}
}

func BenchmarkParseBuiltin(b *testing.B) {
	s, _ := Builtin("arm64-256")
	for b.Loop() {
		if _, err := Parse("x.toml", []byte(s.Source)); err != nil {
			b.Fatal(err)
		}
	}
}
