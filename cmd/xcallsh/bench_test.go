package main

import (
	"strings"
	"testing"
)

// xcallsh bench prints one line per benchmark of docs/performance.md, each
// the fastest of --count runs, and refuses arguments it does not know.
func TestBenchTable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every benchmark")
	}
	st, out, errOut := xcallsh(t, "", "bench", "--benchtime", "1ms", "--count", "2")
	if st != exitOK {
		t.Fatalf("status %d\n%s%s", st, out, errOut)
	}
	contains(t, "bench", out, "fastest of 2 runs of 1ms each, in rounds; channel round trip",
		"CallSingleSync ", "LuaCallSingleSync ", "LuaCallSingleSyncWork ", "Broadcast/cpus=64 ", "Broadcast/cpus=8192 ",
		"Stall ", "Boot/cpus=8192 ", "Torture ", "ExploreRun ", "<= 1 channel RT: ", ">= 3M handler invocations", "<= 3 channel RT: ", "<= 150 channel RT: ")
	if strings.Contains(out, "failed") {
		t.Errorf("a benchmark failed:\n%s", out)
	}
	for _, args := range [][]string{{"bench", "--count", "0"}, {"bench", "extra"}, {"bench", "--benchtime", "0s"}} {
		if st, _, errOut := xcallsh(t, "", args...); st != exitBadArgs || !strings.HasPrefix(errOut, "xcallsh bench: ") {
			t.Errorf("%q: status %d, stderr %q", args, st, errOut)
		}
	}
}
