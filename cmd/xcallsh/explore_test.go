package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A same-instant tie: the assertion holds for some schedules only.
const tieScript = `local order = {}
function mark(who) order[#order + 1] = who end
spawn(1, function() smp_call_function_single(3, mark, 1, 0) end)
spawn(2, function() smp_call_function_single(3, mark, 2, 0) end)
run(ms(1))
assert(order[1] == 1, "CPU 2 won the race")
`

func TestExploreFindsShrinksAndReplays(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "tie.lua")
	os.WriteFile(script, []byte(tieScript), 0o644)
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	if st := mainArgs([]string{"explore", script, "--runs", "40", "-j", "2", "--out", out}, nil, &stdout, &stderr); st != exitFailed {
		t.Fatalf("explore exit %d, want 1\n%s%s", st, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "shrunk from") || !strings.Contains(stdout.String(), "1 distinct failures") {
		t.Errorf("explore said:\n%s", stdout.String())
	}
	reports, _ := filepath.Glob(filepath.Join(out, "*.lua"))
	if len(reports) != 1 {
		t.Fatalf("%d reports in %s", len(reports), out)
	}
	stdout.Reset()
	if st := mainArgs([]string{"run", reports[0], "--quiet"}, nil, &stdout, &stderr); st != exitOK || !strings.Contains(stdout.String(), "reproduced") {
		t.Errorf("replay exit %d: %s", st, stdout.String())
	}
}

func TestExploreCorrectScenarioAndBadFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if st := mainArgs([]string{"explore", "hello", "--runs", "8", "--strategy", "pct"}, nil, &stdout, &stderr); st != exitOK {
		t.Errorf("hello: exit %d\n%s%s", st, stdout.String(), stderr.String())
	}
	for _, args := range [][]string{
		{"explore"}, {"explore", "hello", "--strategy", "dfs"}, {"explore", "hello", "--shard", "2/2"},
		{"explore", "hello", "--runs", "0"}, {"explore", "no-such-scenario"}, {"explore", "hello", "-m", "vax"},
	} {
		if st := mainArgs(args, nil, &stdout, &stderr); st != exitBadArgs {
			t.Errorf("%v: exit %d, want 2", args, st)
		}
	}
}
