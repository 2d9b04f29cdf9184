package report

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse: any text is either a report header or a DamagedError that
// names the file and line; never a panic.
func FuzzParse(f *testing.F) {
	f.Add("--!xcallsh report v1\n--! seed: 0\n--! machine: x86-4\n--! outcome: ok\n--! hash: 0000000000000000\n--! events: 0\n--! block: 1\n--! end\n")
	f.Add("--!xcallsh report v2\n")
	f.Add("--!xcallsh report v1\n--! seed: x\n")
	f.Add("--!xcallsh report v1\n--! decisions: 3=ff,1=2\n")
	f.Add("print(1)")
	f.Add("")
	f.Fuzz(func(t *testing.T, src string) {
		h, err := Parse("r.lua", src)
		if err == nil {
			if h == nil {
				t.Fatal("no header and no error")
			}
			return
		}
		var d *DamagedError
		if !errors.As(err, &d) || !strings.HasPrefix(d.Msg, "r.lua:") {
			t.Fatalf("not a located DamagedError: %v", err)
		}
	})
}
