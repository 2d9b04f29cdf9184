package report

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
)

func TestWriteParseRoundTrip(t *testing.T) {
	spec, err := machines.Builtin("arm64-8")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []*Header{
		{Seed: 7, Machine: "arm64-8", Outcome: Outcome{Kind: "ok"}, Hash: 0xae3a5d772582a23c,
			Sums: Sums{Events: 3, Block: 1, Entries: []uint16{1, 2, 0xffff}}},
		{Seed: 0, Machine: "arm64-8", Outcome: Outcome{Kind: "failed", Detail: "x.lua:3: two\nlines "},
			Hash: 1, Sums: Sums{Events: 1025, Block: 4, Entries: make([]uint16, 257)},
			Strategy: "pct", Depth: 3, Decisions: []emu.Decision{{N: 1, V: 0xff}, {N: 40, V: 3}, {N: 41, V: 1<<63 + 5}}},
		{Seed: 1, Outcome: Outcome{Kind: "stuck", Detail: `"quoted"`}, Sums: Sums{Block: 1}, Decisions: []emu.Decision{}},
	} {
		var b strings.Builder
		if err := Write(&b, h, &Body{MadeBy: "a test", Spec: spec, Scenario: "print(1)"}); err != nil {
			t.Fatal(err)
		}
		got, err := Parse("r.lua", b.String())
		if err != nil {
			t.Fatalf("%v\n%s", err, b.String())
		}
		h.Build = Identity()        // Write records the running build
		h.Seal = Seal{Sealed: true} // and seals the report
		if !reflect.DeepEqual(got, h) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, h)
		}
		// The file is Lua.
		L := lua.NewState()
		if _, err := L.LoadString(b.String()); err != nil {
			t.Errorf("not Lua: %v", err)
		}
		L.Close()
	}
}

// LongString's value is exactly its input, whatever brackets it holds.
func TestLongString(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	for _, s := range []string{"", "x", "]]", "a]", "]=", "]==]", "\nlead", "trail\n", "[[x]]", "]=]]==]", "a\r\nb"} {
		if err := L.DoString("v = " + LongString(s)); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got := L.GetGlobal("v").String(); got != s {
			t.Errorf("LongString(%q) reads back %q", s, got)
		}
		if err := L.DoString("v = " + LuaQuote(s)); err != nil || L.GetGlobal("v").String() != s {
			t.Errorf("LuaQuote(%q) reads back %q (%v)", s, L.GetGlobal("v").String(), err)
		}
	}
}

// A log compared against a report names the first differing event, or
// its block when a checksum covers several.
func TestEventLogDivergence(t *testing.T) {
	lines := func(n int, change int) []string {
		var out []string
		for i := 1; i <= n; i++ {
			l := fmt.Sprintf("event %d", i)
			if i == change {
				l = "changed"
			}
			out = append(out, l)
		}
		return out
	}
	record := func(ls []string) Sums {
		l := NewEventLog()
		l.Keep = true
		for i, s := range ls {
			l.Record(&emu.Event{Seq: uint64(i + 1), T: int64(i), Kind: emu.EvPrintk, Text: s})
		}
		return l.Sums()
	}
	replay := func(want Sums, ls []string) *Divergence {
		l := NewEventLog()
		l.Expect(&want)
		for i, s := range ls {
			l.Record(&emu.Event{Seq: uint64(i + 1), T: int64(i), Kind: emu.EvPrintk, Text: s})
		}
		return l.Finish()
	}
	small := record(lines(100, 0))
	if small.Block != 1 || len(small.Entries) != 100 {
		t.Fatalf("100 events: block %d, %d entries", small.Block, len(small.Entries))
	}
	if d := replay(small, lines(100, 0)); d != nil {
		t.Errorf("same events: %v", d)
	}
	if d := replay(small, lines(100, 42)); d == nil || d.first != 42 || !strings.Contains(d.String(), "changed") {
		t.Errorf("event 42 changed: %v", d)
	}
	if d := replay(small, lines(90, 0)); d == nil || !d.ended || d.first != 91 {
		t.Errorf("shorter: %v", d)
	}
	if d := replay(small, lines(101, 0)); d == nil || d.first != 101 {
		t.Errorf("longer: %v", d)
	}
	big := record(lines(5000, 0))
	if big.Block != 16 || len(big.Entries) != 313 {
		t.Fatalf("5000 events: block %d, %d entries", big.Block, len(big.Entries))
	}
	if d := replay(big, lines(5000, 1234)); d == nil || d.first != 1233 || d.last != 1248 {
		t.Errorf("event 1234 of 5000 changed: %v", d)
	}
}

func TestParseDamage(t *testing.T) {
	spec, _ := machines.Builtin("x86-4")
	var b strings.Builder
	Write(&b, &Header{Outcome: Outcome{Kind: "ok"}, Sums: Sums{Events: 2, Block: 1, Entries: []uint16{1, 2}}},
		&Body{Spec: spec, Scenario: "-- a nested report:\nlocal s = [[\n--! end\n]]\n"})
	good := b.String()
	if _, err := Parse("r.lua", good); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ old, new, want string }{
		{"--! block: 1", "--! block: 3", "r.lua:23: damaged report: block 3 is not a power of two"},
		{"--! outcome: ok", "--! outcome: fine", `outcome "fine" is not one of`},
		{"--! seed: 0", "--! seed: 0\n--! seed: 1", `"seed" appears twice`},
		{"--! seed: 0", "--! sum: 0001", `"sum" does not belong here`},
		{"--! end", "--! seed: 1\n--! end", `"seed" does not belong here`},
		{"--! sum: 0001 0002", "--! sum: 0001", "the checksum list has 1 entries, want 2"},
		{"--! sum: 0001 0002", "--! sum: 0001 02", `checksum "02"`},
		{"--! seed: 0", "--! decisions: 5=1 3=1", "draws must ascend"},
	} {
		i := strings.LastIndex(good, c.old)
		if c.old != "--! end" {
			i = strings.Index(good, c.old)
		}
		_, err := Parse("r.lua", good[:i]+c.new+good[i+len(c.old):])
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q -> %q: %v, want %q", c.old, c.new, err, c.want)
		}
	}
}
