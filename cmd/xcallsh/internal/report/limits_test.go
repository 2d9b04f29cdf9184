package report

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
)

// goodReport is a valid report; its header lines are 17 (seed) to 23
// (block).
func goodReport(t *testing.T) string {
	t.Helper()
	spec, err := machines.Builtin("x86-4")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	h := &Header{Seed: 5, Machine: "x86-4", Outcome: Outcome{Kind: "ok"}, Sums: Sums{Events: 2, Block: 1, Entries: []uint16{1, 2}}}
	if err := Write(&b, h, &Body{MadeBy: "a test", Spec: spec, Scenario: "print(1)\n"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\n--! seed: 5\n--! machine: x86-4\n") || lineOf(b.String(), "--! block: 1") != 23 {
		t.Fatalf("the report's header moved:\n%s", b.String())
	}
	return b.String()
}

// lineOf is the 1-based line where s first holds sub.
func lineOf(s, sub string) int { return 1 + strings.Count(s[:strings.Index(s, sub)], "\n") }

// TestParseRanges checks the range of every number of a report's header
// and trailer, with the exact message.
func TestParseRanges(t *testing.T) {
	good := goodReport(t)
	end := lineOf(good, "--! end")
	for _, c := range []struct{ old, new, want string }{
		{"--! block: 1", "--! block: 1\n--! depth: 300000", "r.lua:24: damaged report: depth 300000 out of range 1-64"},
		{"--! block: 1", "--! block: 1\n--! depth: 1000000000", "r.lua:24: damaged report: depth 1000000000 out of range 1-64"},
		{"--! block: 1", "--! block: 1\n--! depth: 9223372036854775808", "r.lua:24: damaged report: depth 9223372036854775808 out of range 1-64"},
		{"--! block: 1", "--! block: 1\n--! depth: 99999999999999999999999", "r.lua:24: damaged report: depth 99999999999999999999999 out of range 1-64"},
		{"--! block: 1", "--! block: 1\n--! depth: 0", "r.lua:24: damaged report: depth 0 out of range 1-64"},
		{"--! block: 1", "--! block: 1\n--! depth: -1", "r.lua:24: damaged report: depth -1 out of range 1-64"},
		{"--! block: 1", "--! block: 1\n--! depth: 65", "r.lua:24: damaged report: depth 65 out of range 1-64"},
		{"--! block: 1", "--! block: 1\n--! depth: NaN", `r.lua:24: damaged report: depth "NaN": invalid syntax`},
		{"--! block: 1", "--! block: 1\n--! depth: 3.5", `r.lua:24: damaged report: depth "3.5": invalid syntax`},
		{"--! seed: 5", "--! seed: 18446744073709551616", "r.lua:17: damaged report: seed 18446744073709551616 out of range 0-18446744073709551615"},
		{"--! seed: 5", "--! seed: -1", "r.lua:17: damaged report: seed -1 out of range 0-18446744073709551615"},
		{"--! seed: 5", "--! seed: x", `r.lua:17: damaged report: seed "x": invalid syntax`},
		{"--! seed: 5", "--! seed: +5", `r.lua:17: damaged report: seed "+5": invalid syntax`},
		{"--! events: 2", "--! events: 1099511627777", "r.lua:22: damaged report: events 1099511627777 out of range 0-1099511627776"},
		{"--! events: 2", "--! events: -1", "r.lua:22: damaged report: events -1 out of range 0-1099511627776"},
		{"--! events: 2", "--! events: 9223372036854775807", "r.lua:22: damaged report: events 9223372036854775807 out of range 0-1099511627776"},
		{"--! block: 1", "--! block: 4294967296", "r.lua:23: damaged report: block 4294967296 out of range 1-2147483648"},
		{"--! block: 1", "--! block: 0", "r.lua:23: damaged report: block 0 out of range 1-2147483648"},
		{"--! block: 1", "--! block: 3", "r.lua:23: damaged report: block 3 is not a power of two"},
		{"--! hash: 0000000000000000", "--! hash: NaN0000000000000", `r.lua:21: damaged report: hash "NaN0000000000000": want 16 hex digits`},
		{"--! hash: 0000000000000000", "--! hash: -000000000000001", `r.lua:21: damaged report: hash "-000000000000001": want 16 hex digits`},
		{"--! block: 1", "--! block: 1\n--! decisions: 0=1", `r.lua:24: damaged report: decision "0=1": draw 0 out of range 1-281474976710656`},
		{"--! block: 1", "--! block: 1\n--! decisions: 281474976710657=1", `r.lua:24: damaged report: decision "281474976710657=1": draw 281474976710657 out of range 1-281474976710656`},
		{"--! block: 1", "--! block: 1\n--! decisions: 9223372036854775808=1", `r.lua:24: damaged report: decision "9223372036854775808=1": draw 9223372036854775808 out of range 1-281474976710656`},
		{"--! block: 1", "--! block: 1\n--! decisions: 1=10000000000000000", `r.lua:24: damaged report: decision "1=10000000000000000": value 10000000000000000 out of range 0-ffffffffffffffff`},
		{"--! block: 1", "--! block: 1\n--! decisions: 1=-1", `r.lua:24: damaged report: decision "1=-1": want DRAW=HEXVALUE`},
		{"--! block: 1", "--! block: 1\n--! decisions: -1=1", `r.lua:24: damaged report: decision "-1=1": want DRAW=HEXVALUE`},
		{"--! block: 1", "--! block: 1\n--! decisions: 1=NaN", `r.lua:24: damaged report: decision "1=NaN": want DRAW=HEXVALUE`},
		{"--! block: 1", "--! block: 1\n--! decisions: 2=1 2=3", `r.lua:24: damaged report: decision "2=3": draws must ascend`},
		{"--! machine: x86-4", "--! machine: x86 4", `r.lua:18: damaged report: machine name: "x86 4" is not a machine name: it may hold only A-Z a-z 0-9 . _ + -, not ' '`},
		{"--! machine: x86-4", "--! machine: " + strings.Repeat("m", 65), `r.lua:18: damaged report: machine name: a name of 65 bytes is too long (at most 64)`},
		{"--! machine: x86-4", "--! " + strings.Repeat("k", 100), `r.lua:18: damaged report: unknown key "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"...`},
		{"--! sum: 0001 0002", "--! sum: 0001 0002 0003", fmt.Sprintf("r.lua:%d: damaged report: the checksum list has 3 entries, want 2 for 2 events in blocks of 1: the report is truncated or damaged", end)},
	} {
		i := strings.Index(good, c.old)
		_, err := Parse("r.lua", good[:i]+c.new+good[i+len(c.old):])
		var d *DamagedError
		if err == nil || err.Error() != c.want || !errors.As(err, &d) {
			t.Errorf("%q -> %q:\n got %v\nwant %s", c.old, c.new, err, c.want)
		}
	}
}

// TestParseListLimits checks the caps on the decision and checksum lists
// and on the size of a report, and that a report of millions of lines is
// read without a copy of each line.
func TestParseListLimits(t *testing.T) {
	good := goodReport(t)
	last := fmt.Sprintf("--! schedule-format: %d\n", emu.ScheduleFormat) // the last line before the optional ones
	at := strings.Index(good, last) + len(last)
	insert := func(lines string) string { return good[:at] + lines + good[at:] }

	var b strings.Builder
	for i := 1; i <= MaxDecisions+1; i++ {
		if i%8 == 1 {
			b.WriteString("--! decisions:")
		}
		fmt.Fprintf(&b, " %d=1", i)
		if i%8 == 0 {
			b.WriteString("\n")
		}
	}
	b.WriteString("\n")
	// Decision MaxDecisions+1 is the first of line 25 + MaxDecisions/8.
	want := fmt.Sprintf("r.lua:%d: damaged report: more than 1048576 decisions", 25+MaxDecisions/8)
	if _, err := Parse("r.lua", insert(b.String())); err == nil || err.Error() != want {
		t.Errorf("too many decisions: %v, want %s", err, want)
	}
	// Exactly MaxDecisions are fine.
	full := b.String()
	full = full[:strings.LastIndex(full, "--! decisions:")]
	if h, err := Parse("r.lua", insert(full)); err != nil || len(h.Decisions) != MaxDecisions {
		t.Errorf("%d decisions: %v", MaxDecisions, err)
	}

	sums := strings.Repeat(" 0001", MaxSums+1)
	bad := strings.Replace(good, "--! sum: 0001 0002", "--! sum:"+sums[:5*MaxSums]+"\n--! sum:"+sums[5*MaxSums:], 1)
	want = fmt.Sprintf("r.lua:%d: damaged report: more than 512 checksums", lineOf(bad, "--! sum: 0001\n--! end"))
	if _, err := Parse("r.lua", bad); err == nil || err.Error() != want {
		t.Errorf("too many checksums: %v, want %s", err, want)
	}

	// The size cap, located at the line that crosses it.
	pad := "-- " + strings.Repeat("x", 96) + "\n"
	big := insert("\n" + strings.Repeat(pad, MaxSize/len(pad)+1))
	want = fmt.Sprintf("r.lua:%d: damaged report: the report is larger than 67108864 bytes (%d bytes)", 1+strings.Count(big[:MaxSize], "\n"), len(big))
	if _, err := Parse("r.lua", big); err == nil || err.Error() != want {
		t.Errorf("too large: %v, want %s", err, want)
	}

	// Sixty million empty lines: parsed in place.
	lines := insert("\n" + strings.Repeat("\n", 60<<20))
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	h, err := Parse("r.lua", lines)
	runtime.ReadMemStats(&m1)
	if err != nil || h.Seed != 5 {
		t.Fatalf("60M lines: %v", err)
	}
	if a := m1.TotalAlloc - m0.TotalAlloc; a > 1<<20 {
		t.Errorf("60M lines: Parse allocated %d bytes", a)
	}
}

// TestWriteRefuses checks that Write refuses, writing nothing, a header
// that would not read back as it is.
func TestWriteRefuses(t *testing.T) {
	spec, _ := machines.Builtin("x86-4")
	ok := func() *Header {
		return &Header{Seed: 1, Machine: "x86-4", Outcome: Outcome{Kind: "ok"}, Sums: Sums{Events: 1, Block: 1, Entries: []uint16{7}}}
	}
	for _, c := range []struct {
		edit func(*Header)
		want string
	}{
		{func(h *Header) { h.Machine = "a\n--! seed: 99" }, `cannot write the report: machine name: "a\n--! seed: 99" is not a machine name: it may hold only A-Z a-z 0-9 . _ + -, not '\n'`},
		{func(h *Header) { h.Outcome.Kind = "ok\n--! seed: 99" }, `cannot write the report: outcome "ok\n--! seed: 99" is not one of ok, failed, panic, stuck`},
		{func(h *Header) { h.Strategy = "pct\n--! seed: 99" }, `cannot write the report: strategy "pct\n--! seed: 99" is not random or pct`},
		{func(h *Header) { h.Depth = 300000 }, "cannot write the report: depth 300000 out of range 1-64"},
		{func(h *Header) { h.Depth = -1 }, "cannot write the report: depth -1 out of range 1-64"},
		{func(h *Header) { h.Sums.Events = -1 }, "cannot write the report: events -1 out of range 0-1099511627776"},
		{func(h *Header) { h.Sums.Block = 3 }, "cannot write the report: block 3 is not a power of two in 1-2147483648"},
		{func(h *Header) { h.Sums.Entries = nil }, "cannot write the report: 0 checksums for 1 events in blocks of 1"},
		{func(h *Header) { h.Decisions = []emu.Decision{{N: 2, V: 1}, {N: 2, V: 1}} }, "cannot write the report: decision 2=1: draws must ascend in 1-281474976710656"},
		{func(h *Header) { h.Decisions = make([]emu.Decision, MaxDecisions+1) }, "cannot write the report: 1048577 decisions, more than 1048576: shrink them (explore --shrink)"},
	} {
		h := ok()
		c.edit(h)
		var b strings.Builder
		err := Write(&b, h, &Body{Spec: spec, Scenario: "print(1)"})
		if err == nil || err.Error() != c.want || b.Len() != 0 {
			t.Errorf("got %v (%d bytes written)\nwant %s", err, b.Len(), c.want)
		}
	}
	var b strings.Builder
	err := Write(&b, ok(), &Body{Spec: spec, Scenario: strings.Repeat("-- x\n", MaxSize/5)})
	if err == nil || !strings.HasPrefix(err.Error(), "cannot write the report: it would be ") || !strings.HasSuffix(err.Error(), " bytes, more than 67108864") || b.Len() != 0 {
		t.Errorf("a report too large: %v", err)
	}
}

// TestWriteNoInjection writes headers and bodies whose text holds line
// breaks and "--!" lines: the report reads back exactly, and nothing in it
// became a header line or Lua code.
func TestWriteNoInjection(t *testing.T) {
	spec, _ := machines.Builtin("x86-4")
	evil := "x\n--! seed: 99\r--! end\nos.exit(3)\r\n--! outcome: ok"
	h := &Header{Seed: 1, Machine: "x86-4", Outcome: Outcome{Kind: "failed", Detail: evil}, Sums: Sums{Events: 1, Block: 1, Entries: []uint16{7}}}
	var b strings.Builder
	if err := Write(&b, h, &Body{MadeBy: evil, Spec: spec, Scenario: ScriptScenario(evil, "print(1)")}); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	got, err := Parse("r.lua", text)
	h.Build = Identity()        // Write records the running build
	h.Seal = Seal{Sealed: true} // and seals the report
	if err != nil || !reflect.DeepEqual(got, h) {
		t.Fatalf("round trip: %+v, %v\n%s", got, err, text)
	}
	for _, l := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if strings.HasPrefix(l, "os.exit") || l == "--! seed: 99" || l == "--! outcome: ok" {
			t.Errorf("injected line %q in\n%s", l, text)
		}
	}
	if strings.Count(text, "\n--! end\n") != 1 || strings.Count(text, "\r") != 0 {
		t.Errorf("line breaks escaped nowhere:\n%s", text)
	}
	L := lua.NewState()
	defer L.Close()
	if _, err := L.LoadString(text); err != nil {
		t.Errorf("not Lua: %v", err)
	}
}

// TestWriteParseRandom: every header Write accepts reads back equal.
func TestWriteParseRandom(t *testing.T) {
	spec, _ := machines.Builtin("arm64-8")
	r := rand.New(rand.NewPCG(1, 2))
	kinds := []string{"ok", "failed", "panic", "stuck"}
	runes := []rune{'a', ' ', '\n', '\r', '"', '\\', '\t', 0, 0x7f, 'é', '\u2028', '\u00a0', '-', '!', ':'}
	for i := 0; i < 300; i++ {
		h := &Header{Seed: r.Uint64(), Machine: []string{"", "x86-4", "a.b_c+d-1"}[r.IntN(3)],
			Outcome: Outcome{Kind: kinds[r.IntN(4)]}, Hash: r.Uint64()}
		var d []rune
		for n := r.IntN(12); n > 0; n-- {
			d = append(d, runes[r.IntN(len(runes))])
		}
		h.Outcome.Detail = string(d)
		h.Sums.Events = r.IntN(5000)
		h.Sums = SumsOf(make([]uint32, h.Sums.Events), h.Sums.Events)
		if h.Sums.Events == 0 {
			h.Sums.Entries = nil
		}
		if r.IntN(2) == 0 {
			h.Strategy = []string{"random", "pct"}[r.IntN(2)]
			h.Depth = 1 + r.IntN(emu.MaxDepth)
		}
		if r.IntN(2) == 0 {
			h.Decisions = []emu.Decision{}
			for n, k := 0, r.IntN(20); k > 0; k-- {
				n += 1 + r.IntN(1000)
				h.Decisions = append(h.Decisions, emu.Decision{N: n, V: r.Uint64()})
			}
		}
		var b strings.Builder
		if err := Write(&b, h, &Body{MadeBy: "a test", Spec: spec, Scenario: "print(1)"}); err != nil {
			t.Fatalf("%+v: %v", h, err)
		}
		got, err := Parse("r.lua", b.String())
		h.Build = Identity()        // Write records the running build
		h.Seal = Seal{Sealed: true} // and seals the report
		if err != nil || !reflect.DeepEqual(got, h) {
			t.Fatalf("round trip of %+v:\n got %+v, %v\n%s", h, got, err, b.String())
		}
	}
}
