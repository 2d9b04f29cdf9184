package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/traces/tracetest"
)

func TestRunExitStatus(t *testing.T) {
	if st, _, errOut := xcallsh(t, "", "run", "hello"); st != 0 || !strings.Contains(errOut, "outcome ok, trace ") {
		t.Errorf("hello: exit %d\n%s", st, errOut)
	}
	bad := tempFile(t, "bad.lua", "local x = 1\nassert(x == 2, 'x is not 2')\n")
	if st, _, errOut := xcallsh(t, "", "run", bad); st != 1 || !strings.Contains(errOut, "bad.lua:2: x is not 2") {
		t.Errorf("failing script: exit %d\n%s", st, errOut)
	}
	for _, args := range [][]string{
		{"run"}, {"run", "nosuch.lua"}, {"run", "hello", "--seed", "-1"}, {"run", "hello", "-m", "nosuch"},
		{"run", "hello", "--bogus"}, {"nosuch"},
	} {
		if st, _, _ := xcallsh(t, "", args...); st != 2 {
			t.Errorf("%q: exit %d, want 2", args, st)
		}
	}
}

// run --report writes a report that replays: for several machines and
// seeds, and for a failing script (its failure is the recorded outcome).
func TestRunReportReplays(t *testing.T) {
	dir := t.TempDir()
	failing := tempFile(t, "fails.lua", `
spawn(0, function() smp_call_function_single(1, function() error("boom in the handler") end, nil, 1) end)
run(ms(1))
`)
	for i, c := range []struct {
		args   []string
		status int
		kind   string
	}{
		{[]string{"hello"}, 0, "ok"},
		{[]string{"hello", "-m", "arm64-8", "--seed", "3"}, 0, "ok"},
		{[]string{"csd_stall", "--seed", "11"}, 0, "ok"},
		{[]string{failing, "-m", "x86-xapic-8"}, 1, "failed"},
	} {
		rep := filepath.Join(dir, "r"+string(rune('0'+i))+".lua")
		st, _, errOut := xcallsh(t, "", append([]string{"run", "--report", rep}, c.args...)...)
		if st != c.status {
			t.Fatalf("%q: exit %d, want %d\n%s", c.args, st, c.status, errOut)
		}
		text, err := os.ReadFile(rep)
		if err != nil {
			t.Fatal(err)
		}
		contains(t, "report", string(text), "--! outcome: "+c.kind+"\n")
		st, out, errOut := xcallsh(t, "", "run", rep)
		if st != 0 || !strings.Contains(out, "reproduced: outcome "+c.kind) {
			t.Errorf("%q: replay exit %d\n%s\n%s", c.args, st, out, errOut)
		}
		// A report of a report replays too.
		rep2 := rep + ".again.lua"
		xcallsh(t, "", "run", rep, "--report", rep2)
		if st, out, _ := xcallsh(t, "", "run", rep2); st != 0 || !strings.Contains(out, "reproduced") {
			t.Errorf("%q: report of the report: exit %d\n%s", c.args, st, out)
		}
	}
	// Another seed than the report's diverges.
	random := tempFile(t, "random.lua", "spawn(0, function() printk('%d', math.random(1000000)) end)\nrun(1)\n")
	rep := filepath.Join(dir, "random.lua")
	xcallsh(t, "", "run", random, "--seed", "3", "--report", rep)
	if st, out, _ := xcallsh(t, "", "run", rep); st != 0 {
		t.Errorf("random: exit %d\n%s", st, out)
	}
	if st, out, _ := xcallsh(t, "", "run", rep, "--seed", "4"); st != 1 || !strings.Contains(out, "diverged") {
		t.Errorf("other seed: exit %d\n%s", st, out)
	}
}

const broadcast = `
function f(info) end
spawn(0, "bcast", function() on_each_cpu(f, nil, 1) end)
spawn(1, "single", function() smp_call_function_single(3, f, nil, 1) end)
run(ms(1))
spawn(2, "all", function() smp_call_function(f, nil, 1) end)
run(ms(1))
`

func TestPerfettoJSON(t *testing.T) {
	dir := t.TempDir()
	bc := tempFile(t, "bcast.lua", broadcast)
	for _, c := range []struct {
		machine string
		script  string
		cpus    int
	}{
		{"x86-4", "hello", 4},
		{"x86-4", "csd_stall", 4},
		{"x86-4", bc, 4},
		{"arm64-8", bc, 8},
		{"x86-64", bc, 64},
	} {
		file := filepath.Join(dir, c.machine+".json")
		if st, _, errOut := xcallsh(t, "", "run", c.script, "-m", c.machine, "--trace", file, "--seed", "2"); st != 0 {
			t.Fatalf("%s %s: exit %d\n%s", c.machine, c.script, st, errOut)
		}
		tracetest.CheckPerfetto(t, file, c.machine, c.cpus)
	}
}

// The same seed gives byte-identical trace files; another seed another trace.
func TestTraceDeterminism(t *testing.T) {
	dir := t.TempDir()
	bc := tempFile(t, "bcast.lua", broadcast)
	read := func(name string, seed string, ext string) []byte {
		file := filepath.Join(dir, name+ext)
		if st, _, errOut := xcallsh(t, "", "run", bc, "-m", "arm64-8", "--seed", seed, "--trace", file, "--quiet"); st != 0 {
			t.Fatalf("exit %d\n%s", st, errOut)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, ext := range []string{".json", ".txt"} {
		a, b := read("a", "9", ext), read("b", "9", ext)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two runs with seed 9 differ", ext)
		}
		if c := read("c", "10", ext); bytes.Equal(a, c) {
			t.Errorf("%s: seeds 9 and 10 gave the same trace", ext)
		}
	}
	if txt := read("d", "9", ".txt"); !bytes.HasPrefix(txt, []byte("# tracer: nop\n")) || !bytes.Contains(txt, []byte("ipi_raise: target_mask=")) {
		t.Errorf("ftrace text:\n%s", txt)
	}
}

func TestRunTimeline(t *testing.T) {
	st, out, _ := xcallsh(t, "", "run", "csd_stall", "--timeline", "--quiet")
	if st != 0 {
		t.Fatalf("exit %d", st)
	}
	contains(t, "timeline", out, "timeline 0.000000000s .. 66.000000000s", "CPU0    >", "CPU1    !", "N", "H",
		"CPU0 > CPU1  sent +20ns, taken +60s by sysvec_call_function_single")
	_, tl, _ := strings.Cut(out, "timeline ")
	for _, l := range strings.Split(tl, "\n") {
		if len([]rune(l)) > 80 {
			t.Errorf("line wider than 80 columns: %q", l)
		}
	}
	// A big machine: at most 16 rows, and a line that says so.
	bc := tempFile(t, "bcast.lua", broadcast)
	_, out, _ = xcallsh(t, "", "run", bc, "-m", "x86-64", "--timeline", "--quiet")
	contains(t, "big timeline", out, "CPU15", "… 48 more CPUs")
}

func TestRunInvalidMachineExits2(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("name = \"bad\"\narch = \"x86_64\"\ncpus = 9000\n[irqchip]\nkind = \"x2apic\"\n"), 0o644)
	inline := filepath.Join(dir, "inline.lua")
	os.WriteFile(inline, []byte("machine([[\nname = \"x\"\narch = \"x86_64\"\ncpus = 4\n[irqchip]\nkind = \"gicv3\"\n]])\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "hello", "-m", bad}, bad + ": line 3: key cpus: 9000 is out of range 1-8192"},
		{[]string{"run", inline}, inline + `:1: machine: inline TOML: line 5: key irqchip.kind: "gicv3" does not fit arch "x86_64"`},
	} {
		var out, errOut bytes.Buffer
		if st := mainArgs(tc.args, nil, &out, &errOut); st != exitBadArgs || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant %q", tc.args, st, errOut.String(), tc.want)
		}
	}
}
