package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// The TLB scenarios under --memory native (docs/memory.md, "The TLB flush
// path"): with both fixes off a search finds the stale TLB, shrinks it and
// writes a report that replays it; with both on, a smaller count than the
// documented 100,000 runs is clean. Seed 0 passes both (and equals sc:
// TestMemoryNativeSeedZeroIsSC).
func TestTLBScenarios(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	st := mainArgs([]string{"explore", "fix_tlb_switch_mm", "--memory", "native", "--runs", "20", "-j", "2", "--out", out}, nil, &stdout, &stderr)
	if got := stdout.String(); st != exitFailed || !strings.Contains(got, "error: stale TLB: CPU 2 uses mm A with its TLB flushed only to tlb_gen") ||
		!strings.Contains(got, "shrunk from") || !strings.Contains(got, "1 distinct failures") {
		t.Fatalf("explore fixes off: exit %d\n%s%s", st, got, stderr.String())
	}
	reports, _ := filepath.Glob(filepath.Join(out, "*.lua"))
	if len(reports) != 1 {
		t.Fatalf("%d reports in %s", len(reports), out)
	}
	stdout.Reset()
	stderr.Reset()
	if st := mainArgs([]string{"run", reports[0]}, nil, &stdout, &stderr); st != exitOK || !strings.Contains(stdout.String()+stderr.String(), "reproduced: outcome failed") {
		t.Errorf("replay: exit %d\n%s%s", st, stdout.String(), stderr.String())
	}
	stdout.Reset()
	if st := mainArgs([]string{"explore", "tlb_switch_mm_fixed", "--memory", "native", "--runs", "500", "-j", "2"}, nil, &stdout, &stderr); st != exitOK ||
		!strings.Contains(stdout.String(), "500 runs (random, shard 0/1), 0 failed") {
		t.Errorf("explore fixes on: exit %d\n%s", st, stdout.String())
	}
	for _, name := range []string{"fix_tlb_switch_mm", "tlb_switch_mm_fixed"} {
		if st, _, errOut := xcallsh(t, "", "run", name, "--memory", "native"); st != exitOK || !strings.Contains(errOut, "outcome ok") {
			t.Errorf("%s seed 0: exit %d\n%s", name, st, errOut)
		}
	}
}
