package machines

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestBuiltins(t *testing.T) {
	infos := Builtins()
	var names []string
	for _, i := range infos {
		names = append(names, i.Name)
	}
	want := []string{"arm64-256", "arm64-8", "x86-4", "x86-64", "x86-xapic-8"}
	if !slices.Equal(names, want) {
		t.Fatalf("Builtins names = %v, want %v", names, want)
	}
	if !slices.Contains(names, Default) {
		t.Errorf("Default %q is not built in", Default)
	}
	for _, info := range infos {
		s, err := Builtin(info.Name)
		if err != nil {
			t.Fatalf("Builtin(%q): %v", info.Name, err)
		}
		if err := s.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", info.Name, err)
		}
		if s.Name != info.Name || s.Description != info.Description || info.Description == "" || strings.Contains(info.Description, "\n") {
			t.Errorf("%s: name %q, description %q, info %+v", info.Name, s.Name, s.Description, info)
		}
		file, err := builtinFS.ReadFile("builtin/" + info.Name + ".toml")
		if err != nil || s.Source != string(file) {
			t.Errorf("%s: Source is not the embedded file (%v)", info.Name, err)
		}
		if !strings.HasPrefix(s.Source, "# "+info.Name+" — ") {
			t.Errorf("%s: file lacks its comment header", info.Name)
		}
		again, err := Parse("again.toml", []byte(s.Source))
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Errorf("%s: re-parse differs (%v)", info.Name, err)
		}
	}
}

// TestBuiltinShapes pins down what each built-in machine is.
func TestBuiltinShapes(t *testing.T) {
	for _, tc := range []struct {
		name, kind, mode string
		arch             Arch
		cpus, cluster    int
		nodes            []string
	}{
		{"x86-4", "x2apic", "physical", ArchX86, 4, 0, []string{"0-3"}},
		{"x86-xapic-8", "xapic", "flat", ArchX86, 8, 0, []string{"0-7"}},
		{"x86-64", "x2apic", "cluster", ArchX86, 64, 0, []string{"0-31", "32-63"}},
		{"arm64-8", "gicv3", "", ArchARM64, 8, 4, []string{"0-3", "4-7"}},
		{"arm64-256", "gicv3", "", ArchARM64, 256, 16, []string{"0-63", "64-127", "128-191", "192-255"}},
	} {
		s, err := Builtin(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		var nodes []string
		for _, n := range s.Nodes {
			nodes = append(nodes, FormatCPUList(n))
		}
		if s.Arch != tc.arch || s.CPUs != tc.cpus || s.IRQChip.Kind != tc.kind || s.IRQChip.Mode != tc.mode ||
			s.IRQChip.ClusterSize != tc.cluster || !slices.Equal(nodes, tc.nodes) || len(s.Online) != s.CPUs {
			t.Errorf("%s = %s %d CPUs %+v nodes %v", tc.name, s.Arch, s.CPUs, s.IRQChip, nodes)
		}
	}
	// x86-4 spells out every default: it must equal a minimal file.
	s, _ := Builtin("x86-4")
	min, err := Parse("min.toml", []byte("name = \"x86-4\"\narch = \"x86_64\"\ncpus = 4\n[irqchip]\nkind = \"x2apic\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	min.Description, min.Source = s.Description, s.Source
	if !reflect.DeepEqual(min, s) {
		t.Errorf("x86-4 differs from the defaults:\n%+v\n%+v", s, min)
	}
}

func TestBuiltinIsACopy(t *testing.T) {
	a, _ := Builtin(Default)
	a.Online[0] = 7
	a.IRQChip.APICIDs[0] = 7
	b, _ := Builtin(Default)
	if b.Online[0] != 0 || b.IRQChip.APICIDs[0] != 0 {
		t.Error("Builtin returned shared slices")
	}
}

func TestBuiltinUnknown(t *testing.T) {
	_, err := Builtin("vax")
	want := `unknown built-in machine "vax" (built-in machines: arm64-256, arm64-8, x86-4, x86-64, x86-xapic-8)`
	if err == nil || err.Error() != want {
		t.Errorf("Builtin(vax) = %v", err)
	}
}

func TestLoad(t *testing.T) {
	s, err := Load("arm64-8")
	if err != nil || s.Name != "arm64-8" {
		t.Fatalf("Load(arm64-8) = %v, %v", s, err)
	}

	dir := t.TempDir()
	good := filepath.Join(dir, "m.toml")
	if err := os.WriteFile(good, []byte(x86File), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Load(good)
	if err != nil || s.Name != "t" || s.Source != x86File {
		t.Errorf("Load(file) = %+v, %v", s, err)
	}

	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte(x86File+"mode = \"flat\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	var e *Error
	if !errors.As(err, &e) || e.File != bad || e.Line != 6 || e.Key != "irqchip.mode" {
		t.Errorf("Load(bad) = %v", err)
	}

	_, err = Load("vax")
	want := `loading machine "vax": no built-in machine or file by that name (built-in machines: arm64-256, arm64-8, x86-4, x86-64, x86-xapic-8)`
	if err == nil || err.Error() != want || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(vax) = %v", err)
	}

	missing := filepath.Join(dir, "none.toml")
	_, err = Load(missing)
	want = `loading machine "` + missing + `": open ` + missing + `: no such file or directory`
	if err == nil || err.Error() != want || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v", err)
	}

	_, err = Load(dir)
	if err == nil || !strings.HasPrefix(err.Error(), `loading machine "`+dir+`": `) {
		t.Errorf("Load(dir) = %v", err)
	}
}
