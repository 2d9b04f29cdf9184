package machines

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// Small valid files to build test cases on. Lines appended to them start at
// line 6 (x86) and line 5 (arm).
const (
	x86File = `name = "t"
arch = "x86_64"
cpus = 8
[irqchip]
kind = "x2apic"
`
	armFile = `name = "t"
arch = "arm64"
cpus = 8
[irqchip]
`
)

// TestParseErrors checks the exact message of each way a file can be wrong.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		// Syntax.
		{"syntax", "name = \n", `x.toml: line 1: key name: syntax error: expected value but found '\n' instead`},
		{"syntax no key", "name = \"a\" x\n", `x.toml: line 1: syntax error: expected a top-level item to end with a newline, comment, or EOF, but got 'x' instead`},
		{"duplicate key", "cpus = 4\n" + x86File, `x.toml: line 4: key cpus: syntax error: Key 'cpus' has already been defined`},
		{"duplicate table", x86File + "[irqchip]\n", `x.toml: line 6: syntax error: Key 'irqchip' has already been defined`},

		// Unknown keys.
		{"unknown top", "cpu = 3\n" + x86File, `x.toml: line 1: key cpu: unknown key`},
		{"unknown after table", x86File + "cpu = 3\n", `x.toml: line 6: key irqchip.cpu: unknown key`},
		{"unknown first in file order", "zzz = 1\n" + x86File + "aaa = 2\n", `x.toml: line 1: key zzz: unknown key`},
		{"unknown case", "Name = \"t\"\narch = \"x86_64\"\n", `x.toml: line 1: key Name: unknown key`},
		{"unknown in table", x86File + "kinds = 1\n", `x.toml: line 6: key irqchip.kinds: unknown key`},
		{"unknown table", x86File + "[timings]\njitter = 1\n", `x.toml: line 6: key timings: unknown key`},
		{"unknown in second node", x86File + "[[node]]\ncpus = \"0-3\"\n[[node]]\ncpus = \"4-7\"\nweight = 2\n", `x.toml: line 10: key node[1].weight: unknown key`},
		{"unknown dotted", x86File + "[timing]\nipi.latency = 1\n", `x.toml: line 7: key timing.ipi.latency: unknown key`},
		{"unknown quoted", x86File + "[kernel]\n\"idle mode\" = 1\n", `x.toml: line 7: key kernel."idle mode": unknown key`},

		// Wrong types.
		{"cpus string", "name = \"t\"\narch = \"x86_64\"\ncpus = \"8\"\n", `x.toml: line 3: key cpus: wrong type: want an integer, got string "8"`},
		{"cpus float", "name = \"t\"\narch = \"x86_64\"\ncpus = 8.0\n", `x.toml: line 3: key cpus: wrong type: want an integer, got float 8`},
		{"name integer", "name = 5\n", `x.toml: line 1: key name: wrong type: want a string, got integer 5`},
		{"name table", "name = {first = \"a\"}\n", `x.toml: line 1: key name: wrong type: want a string, got a table`},
		{"arch bool", "name = \"t\"\narch = true\n", `x.toml: line 2: key arch: wrong type: want a string, got boolean true`},
		{"description array", "name = \"t\"\ndescription = []\n", `x.toml: line 2: key description: wrong type: want a string, got an array`},
		{"online integer", x86File[:strings.Index(x86File, "[")] + "online = 3\n[irqchip]\nkind = \"x2apic\"\n", `x.toml: line 4: key online: wrong type: want a CPU list string ("0-3,6"), got integer 3`},
		{"irqchip integer", "name = \"t\"\nirqchip = 5\n", `x.toml: line 2: key irqchip: wrong type: want a table, got integer 5`},
		{"node string", x86File + "node = \"0-7\"\n", `x.toml: line 6: key irqchip.node: unknown key`},
		{"node not tables", "node = [1, 2]\n" + x86File, `x.toml: line 1: key node: wrong type: want an array of tables, got an array`},
		{"node table", "node = {cpus = \"0-7\"}\n" + x86File, `x.toml: line 1: key node: wrong type: want an array of tables, got a table`},
		{"timing string", "timing = \"fast\"\n" + x86File, `x.toml: line 1: key timing: wrong type: want a table, got string "fast"`},
		{"timing float", x86File + "[timing]\njitter = 1.5\n", `x.toml: line 7: key timing.jitter: wrong type: want an integer, got float 1.5`},
		{"timing date", x86File + "[timing]\njitter = 1979-05-27\n", `x.toml: line 7: key timing.jitter: wrong type: want an integer, got a datetime`},
		{"kind integer", x86File[:strings.Index(x86File, "kind")] + "kind = 2\n", `x.toml: line 5: key irqchip.kind: wrong type: want a string, got integer 2`},
		{"apic_ids string", x86File + "apic_ids = \"0-7\"\n", `x.toml: line 6: key irqchip.apic_ids: wrong type: want an array of integers, got string "0-7"`},
		{"apic_ids element", x86File + "apic_ids = [0, 1, \"2\"]\n", `x.toml: line 6: key irqchip.apic_ids: wrong type: want integers, got string "2" (the APIC ID of CPU 2)`},
		{"cluster_size string", armFile + "kind = \"gicv3\"\ncluster_size = \"4\"\n", `x.toml: line 6: key irqchip.cluster_size: wrong type: want an integer, got string "4"`},
		{"node cpus integer", x86File + "[[node]]\ncpus = 7\n", `x.toml: line 7: key node[0].cpus: wrong type: want a CPU list string ("0-3,6"), got integer 7`},
		{"csdlock_debug string", x86File + "[kernel]\ncsdlock_debug = \"yes\"\n", `x.toml: line 7: key kernel.csdlock_debug: wrong type: want 0, 1, false or true, got string "yes"`},
		{"idle integer", x86File + "[kernel]\nidle = 1\n", `x.toml: line 7: key kernel.idle: wrong type: want a string, got integer 1`},

		// Missing keys: no line unless the enclosing table is there.
		{"missing name", "arch = \"x86_64\"\n", `x.toml: key name: missing (required)`},
		{"missing arch", "name = \"t\"\n", `x.toml: key arch: missing (required)`},
		{"missing cpus", "name = \"t\"\narch = \"x86_64\"\n", `x.toml: key cpus: missing (required)`},
		{"missing irqchip", "name = \"t\"\narch = \"x86_64\"\ncpus = 8\n", `x.toml: key irqchip.kind: missing (required)`},
		{"missing kind", armFile + "cluster_size = 4\n", `x.toml: line 4: key irqchip.kind: missing (required)`},
		{"missing node cpus", x86File + "[[node]]\ncpus = \"0-3\"\n[[node]]\n", `x.toml: line 8: key node[1].cpus: missing (required)`},
		{"empty file", "", `x.toml: key name: missing (required)`},

		// cpus.
		{"cpus 9000", "name = \"t\"\narch = \"x86_64\"\ncpus = 9000\n", `x.toml: line 3: key cpus: 9000 is out of range 1-8192`},
		{"cpus 0", "name = \"t\"\narch = \"x86_64\"\ncpus = 0\n", `x.toml: line 3: key cpus: 0 is out of range 1-8192`},
		{"cpus negative", "name = \"t\"\narch = \"x86_64\"\ncpus = -1\n", `x.toml: line 3: key cpus: -1 is out of range 1-8192`},

		// online.
		{"online reversed", x86File + "online = \"3-1\"\n", `x.toml: line 6: key irqchip.online: unknown key`},
		{"online malformed", "online = \"3-1\"\n" + x86File, `x.toml: line 1: key online: invalid CPU list "3-1": range 3-1 ends before it starts`},
		{"online letters", "online = \"a\"\n" + x86File, `x.toml: line 1: key online: invalid CPU list "a": "a" is not a CPU number`},
		{"online beyond cpus", "online = \"0-8\"\n" + x86File, `x.toml: line 1: key online: CPU 8 is out of range 0-7 (cpus = 8)`},
		{"online without 0", "online = \"1-7\"\n" + x86File, `x.toml: line 1: key online: must include CPU 0 (the boot CPU)`},
		{"online empty", "online = \"\"\n" + x86File, `x.toml: line 1: key online: must include CPU 0 (the boot CPU)`},

		// arch and irqchip kind.
		{"arch unknown", "name = \"t\"\narch = \"sparc\"\n", `x.toml: line 2: key arch: unknown arch "sparc" (want "x86_64" or "arm64")`},
		{"gicv3 on x86", x86File[:strings.Index(x86File, "kind")] + "kind = \"gicv3\"\n", `x.toml: line 5: key irqchip.kind: "gicv3" does not fit arch "x86_64" (want "xapic" or "x2apic")`},
		{"xapic on arm", armFile + "kind = \"xapic\"\n", `x.toml: line 5: key irqchip.kind: "xapic" does not fit arch "arm64" (want "gicv3")`},
		{"kind unknown", armFile + "kind = \"gicv2\"\n", `x.toml: line 5: key irqchip.kind: unknown irqchip kind "gicv2" (want "gicv3")`},

		// Modes.
		{"mode unknown", x86File + "mode = \"logical\"\n", `x.toml: line 6: key irqchip.mode: unknown mode "logical" (want "physical" or "cluster")`},
		{"mode empty", x86File + "mode = \"\"\n", `x.toml: line 6: key irqchip.mode: unknown mode "" (want "physical" or "cluster")`},
		{"flat on x2apic", x86File + "mode = \"flat\"\n", `x.toml: line 6: key irqchip.mode: mode "flat" does not fit irqchip kind "x2apic" (want "physical" or "cluster")`},
		{"cluster on xapic", strings.Replace(x86File, "x2apic", "xapic", 1) + "mode = \"cluster\"\n", `x.toml: line 6: key irqchip.mode: mode "cluster" does not fit irqchip kind "xapic" (want "flat" or "physical")`},
		{"cluster on gicv3", armFile + "kind = \"gicv3\"\nmode = \"cluster\"\n", `x.toml: line 6: key irqchip.mode: mode "cluster" does not fit irqchip kind "gicv3" (want "physical" or no mode)`},
		{"flat with 16 CPUs", "name = \"t\"\narch = \"x86_64\"\ncpus = 16\n[irqchip]\nkind = \"xapic\"\nmode = \"flat\"\n", `x.toml: line 6: key irqchip.mode: flat mode addresses at most 8 CPUs (one bit each of the 8-bit logical ID), not 16; use physical`},

		// APIC IDs.
		{"xapic 256 CPUs", "name = \"t\"\narch = \"x86_64\"\ncpus = 256\n[irqchip]\nkind = \"xapic\"\n", `x.toml: line 3: key cpus: xapic addresses at most 255 CPUs (8-bit APIC IDs, 0xff is broadcast), not 256; use x2apic`},
		{"xapic id 255", strings.Replace(x86File, "x2apic", "xapic", 1) + "apic_ids = [0, 1, 2, 3, 4, 5, 6, 255]\n", `x.toml: line 6: key irqchip.apic_ids: APIC ID 255 of CPU 7 does not fit xapic (8-bit IDs, 0xff is broadcast): want 0-254`},
		{"x2apic broadcast id", x86File + "apic_ids = [0, 1, 2, 3, 4, 5, 6, 0xffffffff]\n", `x.toml: line 6: key irqchip.apic_ids: APIC ID 4294967295 of CPU 7 does not fit x2apic (32-bit IDs, 0xffffffff is broadcast): want 0-4294967294`},
		{"x2apic id 2^32", x86File + "apic_ids = [0, 1, 2, 3, 4, 5, 6, 0x100000000]\n", `x.toml: line 6: key irqchip.apic_ids: APIC ID 4294967296 of CPU 7 is out of range 0-4294967295`},
		{"x2apic negative id", x86File + "apic_ids = [0, -1, 2, 3, 4, 5, 6, 7]\n", `x.toml: line 6: key irqchip.apic_ids: APIC ID -1 of CPU 1 is out of range 0-4294967295`},
		{"x2apic cluster id", x86File + "mode = \"cluster\"\napic_ids = [0, 1, 2, 3, 4, 5, 6, 0x100000]\n", `x.toml: line 7: key irqchip.apic_ids: APIC ID 1048576 of CPU 7 does not fit x2apic cluster mode (the logical ID keeps bits 19:0 of the APIC ID): want 0-1048575`},
		{"duplicate ids", x86File + "apic_ids = [\n  0, 1, 2, 3,\n  4, 5, 6, 2,\n]\n", `x.toml: line 6: key irqchip.apic_ids: CPU 7 has APIC ID 2, as CPU 2 does`},
		{"too few ids", x86File + "apic_ids = [0, 1]\n", `x.toml: line 6: key irqchip.apic_ids: has 2 entries, want one per CPU (cpus = 8)`},
		{"apic_ids on arm", armFile + "kind = \"gicv3\"\napic_ids = [0, 1, 2, 3, 4, 5, 6, 7]\n", `x.toml: line 6: key irqchip.apic_ids: apic_ids applies to x86_64 only`},

		// GICv3 clusters.
		{"cluster_size on x86", x86File + "cluster_size = 4\n", `x.toml: line 6: key irqchip.cluster_size: cluster_size applies to gicv3 only, not x2apic`},
		{"cluster_size 0", armFile + "kind = \"gicv3\"\ncluster_size = 0\n", `x.toml: line 6: key irqchip.cluster_size: 0 is out of range 1-256`},
		{"cluster_size 257", armFile + "kind = \"gicv3\"\ncluster_size = 257\n", `x.toml: line 6: key irqchip.cluster_size: 257 is out of range 1-256`},

		// Nodes.
		{"nodes overlap", x86File + "[[node]]\ncpus = \"0-3\"\n[[node]]\ncpus = \"3-7\"\n", `x.toml: line 9: key node[1].cpus: CPU 3 is already in node 0`},
		{"nodes leave a CPU out", x86File + "[[node]]\ncpus = \"0-3\"\n[[node]]\ncpus = \"4-6\"\n", `x.toml: line 6: key node: CPU 7 is in no node`},
		{"node empty", x86File + "[[node]]\ncpus = \"0-7\"\n[[node]]\ncpus = \"\"\n", `x.toml: line 9: key node[1].cpus: node 1 has no CPUs`},
		{"node beyond cpus", x86File + "[[node]]\ncpus = \"0-8\"\n", `x.toml: line 7: key node[0].cpus: CPU 8 is out of range 0-7 (cpus = 8)`},
		{"node malformed", x86File + "[[node]]\ncpus = \"0-3\"\n[[node]]\ncpus = \"4-7,\"\n", `x.toml: line 9: key node[1].cpus: invalid CPU list "4-7,": empty element`},
		{"node empty array", "node = []\n" + x86File, `x.toml: line 1: key node: an empty array has no nodes; leave node out for one node with every CPU`},
		{"inline nodes", "node = [{cpus = \"0-3\"}, {cpus = \"3-7\"}]\n" + x86File, `x.toml: line 1: key node[1].cpus: CPU 3 is already in node 0`},

		// Timing and kernel.
		{"timing negative", x86File + "[timing]\nipi_latency = -5\n", `x.toml: line 7: key timing.ipi_latency: -5 is negative`},
		{"timing huge", x86File + "[timing]\ncallback = 1_000_000_000_001\n", `x.toml: line 7: key timing.callback: 1000000000001 is out of range 0-1000000000000`},
		{"csdlock_debug 2", x86File + "[kernel]\ncsdlock_debug = 2\n", `x.toml: line 7: key kernel.csdlock_debug: 2 is neither 0 nor 1`},
		{"csd_lock_timeout negative", x86File + "[kernel]\ncsd_lock_timeout = -1\n", `x.toml: line 7: key kernel.csd_lock_timeout: -1 is negative`},
		{"panic_on_ipistall negative", x86File + "[kernel]\npanic_on_ipistall = -5\n", `x.toml: line 7: key kernel.panic_on_ipistall: -5 is negative`},
		{"panic_on_ipistall huge", x86File + "[kernel]\npanic_on_ipistall = 2147483648\n", `x.toml: line 7: key kernel.panic_on_ipistall: 2147483648 is out of range 0-2147483647`},
		{"idle unknown", x86File + "[kernel]\nidle = \"mwait\"\n", `x.toml: line 7: key kernel.idle: unknown idle mode "mwait" (want "halt" or "poll")`},

		// name and description.
		{"name empty", "name = \"\"\n" + x86File[strings.Index(x86File, "\n")+1:], `x.toml: line 1: key name: must not be empty`},
		{"description two lines", "description = \"\"\"\nfirst\nsecond\"\"\"\n" + x86File, `x.toml: line 1: key description: must be one line`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse("x.toml", []byte(tc.text))
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want %s", s, tc.want)
			}
			if s != nil {
				t.Errorf("Parse returned both a Spec and an error")
			}
			if err.Error() != tc.want {
				t.Errorf("Parse error\n got: %s\nwant: %s", err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not an *Error", err)
			}
			if e.File != "x.toml" {
				t.Errorf("Error.File = %q", e.File)
			}
			if e.Line > 0 {
				line := strings.Split(tc.text, "\n")[e.Line-1]
				if e.Excerpt != strings.TrimSpace(line) {
					t.Errorf("Error.Excerpt = %q, want %q", e.Excerpt, line)
				}
			}
		})
	}
}

// TestErrorFields checks that an *Error carries its parts and its cause.
func TestErrorFields(t *testing.T) {
	_, err := Parse("m.toml", []byte("online = \"9-\"\n"+x86File))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%v is not an *Error", err)
	}
	want := Error{File: "m.toml", Line: 1, Key: "online", Msg: `invalid CPU list "9-": missing CPU number`, Excerpt: `online = "9-"`}
	got := *e
	got.Err = nil
	if got != want {
		t.Errorf("Error = %+v, want %+v", got, want)
	}
	if e.Err == nil || e.Err.Error() != e.Msg {
		t.Errorf("Error.Err = %v, want the CPU list error", e.Err)
	}

	_, err = Parse("m.toml", []byte("cpus = ="))
	var pe toml.ParseError
	if !errors.As(err, &e) || !errors.As(err, &pe) {
		t.Errorf("syntax error %v does not wrap a toml.ParseError in an *Error", err)
	}

	if got := (&Error{Key: "cpus", Msg: "bad"}).Error(); got != "key cpus: bad" {
		t.Errorf("Error() without file and line = %q", got)
	}
	if got := (&Error{File: "f", Msg: "bad"}).Error(); got != "f: bad" {
		t.Errorf("Error() with file only = %q", got)
	}
}

func TestParseTooLarge(t *testing.T) {
	data := []byte(x86File + strings.Repeat("#", MaxFileSize))
	_, err := Parse("big.toml", data)
	want := fmt.Sprintf("big.toml: file is too large (%d bytes, at most 1048576)", len(data))
	if err == nil || err.Error() != want {
		t.Errorf("Parse = %v, want %s", err, want)
	}
}

// TestParseDefaults checks every default against a minimal file.
func TestParseDefaults(t *testing.T) {
	s, err := Parse("x.toml", []byte(x86File))
	if err != nil {
		t.Fatal(err)
	}
	all := []int{0, 1, 2, 3, 4, 5, 6, 7}
	want := &Spec{
		Name:    "t",
		Arch:    ArchX86,
		CPUs:    8,
		Online:  all,
		IRQChip: IRQChip{Kind: "x2apic", Mode: "physical", APICIDs: all},
		Nodes:   [][]int{all},
		CPUNode: make([]int, 8),
		Timing:  DefaultTiming,
		Kernel:  Kernel{CSDLockTimeoutMS: 5000, Idle: "halt"},
		Source:  x86File,
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Parse(minimal x86) =\n%+v\nwant\n%+v", s, want)
	}

	s, err = Parse("x.toml", []byte(armFile+"kind = \"gicv3\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.IRQChip.Mode != "" || s.IRQChip.ClusterSize != 16 || s.IRQChip.APICIDs != nil {
		t.Errorf("gicv3 defaults: %+v", s.IRQChip)
	}
}

// TestEqualFiles checks that files saying the same thing make DeepEqual
// Specs (once Source, which holds the text, is set aside).
func TestEqualFiles(t *testing.T) {
	parse := func(text string) *Spec {
		t.Helper()
		s, err := Parse("x.toml", []byte(text))
		if err != nil {
			t.Fatalf("Parse(%q): %v", text, err)
		}
		return s
	}
	a, b := parse(x86File), parse(x86File)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("two parses of one text differ")
	}

	for _, group := range [][]string{
		{
			x86File,
			x86File + "mode = \"physical\"\napic_ids = [0, 1, 2, 3, 4, 5, 6, 7]\n",
			"# comment\n" + x86File + "[[node]]\ncpus = \"0-7\"\n",
			"cpus = 8\nonline = \"0-7\"\nname = 't'\narch = \"x86_64\"\nirqchip.kind = \"x2apic\"\n",
			"name = \"t\"\narch = \"x86_64\"\ncpus = 8\nirqchip = {kind = \"x2apic\", mode = \"physical\"}\n",
			x86File + "[timing]\nipi_latency = 1000\njitter = 200\n[kernel]\ncsdlock_debug = false\ncsd_lock_timeout = 5000\nidle = \"halt\"\n",
		},
		{
			x86File + "[kernel]\ncsdlock_debug = 1\n",
			x86File + "[kernel]\ncsdlock_debug = true\n",
		},
		{
			armFile + "kind = \"gicv3\"\n",
			armFile + "kind = \"gicv3\"\nmode = \"physical\"\ncluster_size = 16\n",
		},
		{
			x86File + "[[node]]\ncpus = \"0-3\"\n[[node]]\ncpus = \"4-7\"\n",
			"node = [{cpus = \"3,0-2\"}, {cpus = \"4-7\"}]\n" + x86File,
		},
	} {
		first := parse(group[0])
		first.Source = ""
		for _, text := range group[1:] {
			s := parse(text)
			s.Source = ""
			if !reflect.DeepEqual(s, first) {
				t.Errorf("%q and %q differ:\n%+v\n%+v", group[0], text, first, s)
			}
		}
	}
}

// TestLocate checks that error lines survive TOML that looks like keys
// inside strings, multi-line values and comments.
func TestLocate(t *testing.T) {
	text := `# [[node]] in a comment
name = "t"  # cpus = 99
description = """
[[node]]
cpus = "x"
"""
arch = 'x86_64'
cpus = 8
online = '''
0-7'''
[irqchip]
kind = "x2apic"
apic_ids = [
  0, 1, # a = 1
  2, 3, "[",
  4, 5, 6, 7,
]
[[node]]
"cpus" = "0-3"
[ node.extra ]
[[ node ]]
cpus = "4-7"
`
	l := newLocator(text)
	for key, want := range map[string]int{
		"name":             2,
		"description":      3,
		"arch":             7,
		"cpus":             8,
		"online":           9,
		"irqchip":          11,
		"irqchip.kind":     12,
		"irqchip.apic_ids": 13,
		"irqchip.mode":     11, // absent: its table
		"node":             18,
		"node[0]":          18,
		"node[0].cpus":     19,
		"node[0].extra":    20,
		"node[1]":          21,
		"node[1].cpus":     22,
		"node[2].cpus":     18, // absent: the array
		"timing.jitter":    0,
	} {
		if got := l.line(key); got != want {
			t.Errorf("line(%q) = %d, want %d", key, got, want)
		}
	}
	if kp, ok := l.find("node.extra"); !ok || kp.key != "node[0].extra" {
		t.Errorf("find(node.extra) = %+v, %v", kp, ok)
	}

	_, err := Parse("x.toml", []byte(text))
	want := `x.toml: line 20: key node[0].extra: unknown key`
	if err == nil || err.Error() != want {
		t.Errorf("Parse = %v\nwant %s", err, want)
	}
	_, err = Parse("x.toml", []byte(strings.Replace(text, "[ node.extra ]", "", 1)))
	want = `x.toml: line 13: key irqchip.apic_ids: wrong type: want integers, got string "[" (the APIC ID of CPU 4)`
	if err == nil || err.Error() != want {
		t.Errorf("Parse = %v\nwant %s", err, want)
	}
}

// TestLocatorNeverPanics feeds the locator text no TOML decoder accepts.
func TestLocatorNeverPanics(t *testing.T) {
	for _, text := range []string{
		"", "[", "[[", "a", "a =", `a = "`, `a = "\`, `a = """`, `a = """\`, "a = '''", `"`, `"\`, "'", "=",
		"a = [\n", "a = {", "]]]", "a.\"b\\\n", "\ufeffa = 1",
	} {
		l := newLocator(text)
		l.line("a.b[1].c")
		l.excerpt(5)
	}
}

// TestSchema checks that the schema lists exactly the keys of the raw types.
func TestSchema(t *testing.T) {
	keys := map[string]bool{}
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for f := range typ.Fields() {
			keys[prefix+f.Tag.Get("toml")] = false
		}
	}
	walk("", reflect.TypeFor[rawFile]())
	for table, typ := range map[string]reflect.Type{
		"irqchip": reflect.TypeFor[rawIRQChip](),
		"node":    reflect.TypeFor[rawNode](),
		"timing":  reflect.TypeFor[rawTiming](),
		"kernel":  reflect.TypeFor[rawKernel](),
		"memory":  reflect.TypeFor[rawMemory](),
	} {
		keys[table] = true
		walk(table+".", typ)
	}
	if !reflect.DeepEqual(keys, schema) {
		t.Errorf("schema and raw types differ:\n%v\n%v", keys, schema)
	}
}

// TestValidate checks rules that only a Spec built in Go can break.
func TestValidate(t *testing.T) {
	base := Synthetic(ArchX86, "x2apic", "", 4, 0)
	if err := base.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{"online unsorted", func(s *Spec) { s.Online = []int{0, 2, 1} }, "key online: CPU list is not ascending and free of duplicates"},
		{"node unsorted", func(s *Spec) { s.Nodes = [][]int{{0, 1, 3, 2}} }, "key node[0].cpus: CPU list is not ascending and free of duplicates"},
		{"no nodes", func(s *Spec) { s.Nodes = nil }, "key node: no nodes"},
		{"CPUNode", func(s *Spec) { s.CPUNode = []int{0, 0, 0} }, "CPUNode does not match Nodes"},
		{"CPUNode values", func(s *Spec) { s.Nodes = [][]int{{0, 1}, {2, 3}} }, "CPUNode does not match Nodes"},
		{"cluster_size on x86", func(s *Spec) { s.IRQChip.ClusterSize = 16 }, "key irqchip.cluster_size: cluster_size applies to gicv3 only, not x2apic"},
		{"APIC IDs missing", func(s *Spec) { s.IRQChip.APICIDs = nil }, "key irqchip.apic_ids: has 0 entries, want one per CPU (cpus = 4)"},
		{"gicv3 physical", func(s *Spec) {
			s.Arch, s.IRQChip = ArchARM64, IRQChip{Kind: "gicv3", Mode: "physical", ClusterSize: 16}
		}, `key irqchip.mode: gicv3 has no modes: a Spec holds "" (a file may say "physical")`},
		{"jitter", func(s *Spec) { s.Timing.Jitter = -1 }, "key timing.jitter: -1 is negative"},
		{"idle", func(s *Spec) { s.Kernel.Idle = "" }, `key kernel.idle: unknown idle mode "" (want "halt" or "poll")`},
	} {
		s := base.Clone()
		tc.change(s)
		if err := s.Validate(); err == nil || err.Error() != tc.want {
			t.Errorf("%s: Validate = %v, want %s", tc.name, err, tc.want)
		}
	}
}

func TestNodeAndClone(t *testing.T) {
	s, err := Builtin("arm64-8")
	if err != nil {
		t.Fatal(err)
	}
	for cpu, want := range map[int]int{-1: -1, 0: 0, 3: 0, 4: 1, 7: 1, 8: -1} {
		if got := s.Node(cpu); got != want {
			t.Errorf("Node(%d) = %d, want %d", cpu, got, want)
		}
	}
	c := s.Clone()
	if !reflect.DeepEqual(c, s) {
		t.Fatal("Clone differs")
	}
	c.Online[0], c.Nodes[0][0], c.CPUNode[0] = 9, 9, 9
	if s.Online[0] != 0 || s.Nodes[0][0] != 0 || s.CPUNode[0] != 0 {
		t.Error("Clone shares slices")
	}
	if !slices.Equal(c.IRQChip.APICIDs, nil) {
		t.Error("arm64 Clone has APIC IDs")
	}
}

// TestMemoryModel checks the [memory] table: "sc" (kept as ""), "native",
// and an unknown model named with its key.
func TestMemoryModel(t *testing.T) {
	base := "name = \"m\"\narch = \"x86_64\"\ncpus = 2\n[irqchip]\nkind = \"x2apic\"\n"
	for model, want := range map[string]string{"": "", "[memory]\nmodel = \"sc\"\n": "", "[memory]\nmodel = \"native\"\n": MemoryNative} {
		s, err := Parse("m.toml", []byte(base+model))
		if err != nil || s.Memory != want {
			t.Errorf("%q: Memory %q, %v; want %q", model, s.Memory, err, want)
		}
	}
	_, err := Parse("m.toml", []byte(base+"[memory]\nmodel = \"weak\"\n"))
	if err == nil || !strings.Contains(err.Error(), "memory.model") || !strings.Contains(err.Error(), "unknown memory model \"weak\"") {
		t.Errorf("model weak: %v", err)
	}
}
