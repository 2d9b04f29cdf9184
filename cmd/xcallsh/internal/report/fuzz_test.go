package report

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
)

// FuzzParse: any text is either a report header, a DamagedError that
// names the file and line, or a FormatError (a report of another schedule
// format) that names the file; never a panic. A header Parse reads, Write
// writes, and the report reads back the same header.
func FuzzParse(f *testing.F) {
	f.Add("--!xcallsh report v1\n--! seed: 0\n--! machine: x86-4\n--! outcome: ok\n--! hash: 0000000000000000\n--! events: 0\n--! block: 1\n--! end\n")
	f.Add("--!xcallsh report v2\n")
	f.Add("--!xcallsh report v2\n--! seed: 0\n--! machine: x86-4\n--! outcome: ok\n--! hash: 0000000000000000\n--! events: 0\n--! block: 1\n--! schedule-format: 2\n--! end\n")
	f.Add("--!xcallsh report v2\n--! seed: 0\n--! outcome: ok\n--! hash: 0000000000000000\n--! events: 0\n--! block: 1\n--! schedule-format: 3\n--! made-by: xcallsh v1.2.3 (go1.30)\n--! end\n")
	f.Add("--!xcallsh report v1\n--! seed: x\n")
	f.Add("--!xcallsh report v1\n--! decisions: 3=ff,1=2\n")
	f.Add("print(1)")
	f.Add("")
	// Hostile headers: numbers out of range, forged lines, long lists.
	head := "--!xcallsh report v1\n--! seed: 0\n--! machine: x86-4\n--! outcome: ok\n--! hash: 0000000000000000\n--! events: 0\n--! block: 1\n"
	for _, extra := range []string{
		"--! depth: 300000\n", "--! depth: 1000000000\n", "--! depth: 9223372036854775808\n", "--! depth: -1\n", "--! depth: NaN\n",
		"--! depth: 64\n--! strategy: pct\n",
		"--! seed: 18446744073709551616\n", "--! events: 9223372036854775807\n", "--! block: 9223372036854775808\n",
		"--! decisions: 9223372036854775808=1\n", "--! decisions: 1=10000000000000000 2=-1\n", "--! decisions: 1=NaN\n",
		"--! decisions: 281474976710656=ffffffffffffffff\n",
		"--! machine: a\n--! seed: 99\n", "--! detail: \"a\\n--! seed: 99\"\n", "--! detail: \"\\x\"\n", "--! detail:  a\u00a0\n",
		strings.Repeat("--! decisions: 1=1\n", 3),
	} {
		f.Add(head + extra + "\nprint(1)\n--! end\n")
	}
	f.Add(head + "\n" + strings.Repeat("\n", 1<<16) + "--! sum:" + strings.Repeat(" 0000", 513) + "\n--! end\n")
	f.Add(head + "\r\n\r\n--! end\r\n")
	spec, err := machines.Builtin("x86-4")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src string) {
		h, err := Parse("r.lua", src)
		if err == nil {
			if h == nil {
				t.Fatal("no header and no error")
			}
			var b strings.Builder
			if err := Write(&b, h, &Body{MadeBy: "fuzz", Spec: spec, Scenario: "print(1)"}); err != nil {
				t.Fatalf("Write of a parsed header: %v", err)
			}
			again, err := Parse("again.lua", b.String())
			h.Build = Identity()        // Write records the running build
			h.Seal = Seal{Sealed: true} // and seals the report
			if err != nil || !reflect.DeepEqual(again, h) {
				t.Fatalf("round trip:\n got %+v, %v\nwant %+v", again, err, h)
			}
			return
		}
		var d *DamagedError
		var fe *FormatError
		switch {
		case errors.As(err, &fe):
			if fe.Format == emu.ScheduleFormat || !strings.HasPrefix(err.Error(), "r.lua: cannot replay: ") {
				t.Fatalf("a FormatError for this schedule format, or unnamed: %v", err)
			}
		case !errors.As(err, &d) || !strings.HasPrefix(d.Msg, "r.lua:"):
			t.Fatalf("not a located DamagedError: %v", err)
		}
	})
}
