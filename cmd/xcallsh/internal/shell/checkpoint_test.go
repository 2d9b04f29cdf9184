package shell

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// cpSession is the run the checkpoint tests move through: two tasks
// cross-calling CPUs of arm64-8, one with wait=0, printk lines, a few
// thousand events.
var cpSession = []string{
	"function greet(info) printk('greet %d on %d', info, smp_processor_id()) end",
	"spawn(0, function() for i = 1, 40 do smp_call_function_single(1 + i % 7, greet, i, 1) end end)",
	"spawn(2, function() for i = 1, 20 do smp_call_function(greet, 100 + i, i % 2); mdelay(1) end end)",
	"run 30ms",
}

// withSpacing sets minSpacing for one test.
func withSpacing(t *testing.T, n uint64) {
	old := minSpacing
	minSpacing = n
	t.Cleanup(func() { minSpacing = old })
}

// views is everything a person sees of the machine at a point: the
// looking commands, the timeline of the whole run, the three trace files,
// the summary and, with report, the report's replay (report first
// finishes the instant the machine stopped in).
func views(t *testing.T, sh *testShell, dir string, report bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range []string{"info cpus", "queue 1", "queue 5", "ipis", "where 0", "where 1", "csd 1", "dmesg 5", "timeline all"} {
		out[l] = sh.Exec(l)
	}
	for _, f := range []string{"t.dat", "t.txt", "t.json"} {
		p := filepath.Join(dir, f)
		sh.must(t, "trace "+p)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out["trace "+f] = string(b)
	}
	out["summary"] = sh.summary()
	if report {
		rep := sh.must(t, "report "+filepath.Join(dir, "r.lua"))
		// The report's replay: its outcome and trace hash; its step list
		// names the commands, which differ between the ways to get here.
		out["report"] = regexp.MustCompile(`outcome .*`).FindString(rep)
	}
	return out
}

func sameViews(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %s differs:\n%s\nwant\n%s", what, k, clipText(got[k]), clipText(w))
		}
	}
}

func clipText(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}

// Going back from the end of a run to event #N, from a checkpoint, leaves
// the machine and every view exactly as a run stopped at #N directly.
func TestBackFromCheckpointEqualsDirect(t *testing.T) {
	withSpacing(t, 300)
	long := newTestShell(t, "arm64-8", 0)
	for _, l := range cpSession {
		long.must(t, l)
	}
	end := long.sess.K.M.Recorded()
	long.waitCheckpoints()
	if n := long.parkedCount(); n < 4 || n > maxParked {
		t.Fatalf("%d checkpoints on a run of %d events, want 4 to %d", n, end, maxParked)
	}
	for _, n := range []uint64{end - 3, end/2 + 7, 20} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			long.waitCheckpoints()
			contains(t, "goto", long.must(t, fmt.Sprintf("goto #%d", n)), fmt.Sprintf("back at event #%d ", n))
			if n > 2*minSpacing && long.reexecStart == 0 {
				t.Errorf("goto #%d re-executed from boot, with checkpoints at hand", n)
			}
			if n < 300 && long.reexecStart != 0 {
				t.Errorf("goto #%d started after event %d", n, long.reexecStart)
			}
			direct := newTestShell(t, "arm64-8", 0)
			for _, l := range cpSession[:3] {
				direct.must(t, l)
			}
			contains(t, "direct goto", direct.must(t, fmt.Sprintf("goto #%d", n)), fmt.Sprintf("at event #%d ", n))
			got, want := views(t, long, t.TempDir(), true), views(t, direct, t.TempDir(), true)
			sameViews(t, "after going back", got, want)
			if !strings.Contains(got["report"], "outcome ok") {
				t.Errorf("report: %s", got["report"])
			}
			// What comes next is the same too.
			if a, b := long.must(t, "step 30"), direct.must(t, "step 30"); a != b {
				t.Errorf("step 30 after going back:\n%s\nwant\n%s", a, b)
			}
			long.must(t, fmt.Sprintf("goto #%d", end))
		})
	}
}

// step 10 then back 10 leaves everything as it was before the step, on a
// run long enough to have checkpoints.
func TestStepBackSameViews(t *testing.T) {
	withSpacing(t, 300)
	sh := newTestShell(t, "arm64-8", 0)
	for _, l := range cpSession[:3] {
		sh.must(t, l)
	}
	sh.must(t, "goto #2500")
	sh.waitCheckpoints()
	before := views(t, sh, t.TempDir(), false)
	sh.must(t, "step 10")
	sh.waitCheckpoints()
	contains(t, "back", sh.must(t, "back 10"), "back at event #2500 ")
	if sh.reexecStart == 0 {
		t.Errorf("back 10 re-executed from boot, with %d checkpoints at hand", sh.parkedCount())
	}
	sameViews(t, "step 10, back 10", views(t, sh, t.TempDir(), false), before)
	next := sh.must(t, "step 12")
	sh.must(t, "back 12")
	if again := sh.must(t, "step 12"); again != next {
		t.Errorf("step 12 after back 12:\n%s\nwant\n%s", again, next)
	}
}

// transcript runs lines on a fresh shell and returns all it printed;
// with wait, the checkpoints are built before each line, else the lines
// come as they come (and the moves stop the builder).
func transcript(t *testing.T, lines []string, wait bool) string {
	t.Helper()
	sh := newTestShell(t, "arm64-8", 0)
	var b strings.Builder
	for _, l := range lines {
		if wait {
			sh.waitCheckpoints()
		}
		fmt.Fprintf(&b, "> %s\n%s", l, sh.Exec(l))
	}
	fmt.Fprintln(&b, sh.summary())
	return b.String()
}

// Moving through a run prints the same with checkpoints as without, and
// the same every time: back, goto both ways, reverse-continue (a hit after
// the last checkpoint and one before it), the timeline and the report.
func TestCheckpointsDeterministic(t *testing.T) {
	dir := t.TempDir()
	lines := append(append([]string(nil), cpSession...),
		"back 1", "info cpus", "goto 15ms", "goto #1200", "where 1", "step 3", "back 40", "goto 10ms", "timeline all",
		"break csd_function_entry cpu=3", "goto #1500", "c", "c", "c", "reverse-continue", "rc", "rc", "clear all",
		"break printk if info.text == 'greet 105 on 3'", "goto #2900", "rc", "clear all", "goto #2900", "goto 4ms", "goto 4.5ms",
		"goto #2900", "back 2000", "ipis", "report "+filepath.Join(dir, "r.lua"), "run 1ms", "back 9", "dmesg 3")
	withSpacing(t, 300)
	with := transcript(t, lines, true)
	if again := transcript(t, lines, true); again != with {
		t.Errorf("two runs differ:\n%s\nand\n%s", again, with)
	}
	if busy := transcript(t, lines, false); busy != with {
		t.Errorf("without waiting for the checkpoints:\n%s\nwith:\n%s", busy, with)
	}
	minSpacing = 1 << 40
	without := transcript(t, lines, false)
	if with != without {
		t.Errorf("with checkpoints:\n%s\nwithout:\n%s", with, without)
	}
	for _, w := range []string{"Breakpoint 1 (csd_function_entry cpu=3)", "> rc\nback at event #1442 ", "> rc\nback at event #1338 ",
		"it reproduces this session exactly"} {
		contains(t, "transcript", with, w)
	}
}

// After going back, the views are rebuilt by re-executing the session:
// not while a script is paused in breakpoint(), which holds the machine;
// once it ends, they are those of the whole session.
func TestViewsAfterBackWithPausedScript(t *testing.T) {
	script := tempFile(t, "bp.lua", `spawn(0, function()
  smp_call_function_single(2, function() end, nil, 1)
  breakpoint()
  smp_call_function_single(3, function() end, nil, 1)
end)
run(ms(1))
`)
	sh := newTestShell(t, "x86-4", 0)
	sh.must(t, "spawn(1, function() smp_call_function_single(2, function() end, nil, 1) end)")
	sh.must(t, "run 1ms")
	back := sh.sess.K.M.Recorded() - 3
	sh.must(t, "back 3")
	contains(t, "paused", sh.must(t, "source "+script), "breakpoint() at ")
	contains(t, "refused", sh.Exec("timeline all"), "timeline: going back left this session without its traces",
		"while a script is paused in breakpoint() (continue first)")
	sh.must(t, "continue")
	direct := newTestShell(t, "x86-4", 0)
	direct.must(t, "spawn(1, function() smp_call_function_single(2, function() end, nil, 1) end)")
	direct.must(t, fmt.Sprintf("goto #%d", back))
	direct.must(t, "source "+script)
	direct.must(t, "continue")
	sameViews(t, "after the script", views(t, sh, t.TempDir(), true), views(t, direct, t.TempDir(), true))
}

// As a run grows, the checkpoints stay at most maxParked, spread over it:
// no event is more than spacing (and an eighth) after one or after boot.
func TestCheckpointsBoundedAsRunGrows(t *testing.T) {
	withSpacing(t, 40)
	sh := newTestShell(t, "arm64-8", 0)
	for _, l := range cpSession[:3] {
		sh.must(t, l)
	}
	for i := 0; i < 8; i++ {
		sh.must(t, "run 2ms")
		sh.waitCheckpoints()
		n := sh.sess.K.M.Recorded()
		if c := sh.parkedCount(); c > maxParked || c == 0 {
			t.Fatalf("after %d events: %d checkpoints", n, c)
		}
		prev, s := uint64(0), spacing(n)
		for _, p := range append(append([]*parked(nil), sh.cps.parked...), &parked{seq: n}) {
			if p.seq <= prev || p.seq-prev > 2*s {
				t.Errorf("after %d events: a gap from %d to %d (spacing %d)", n, prev, p.seq, s)
			}
			prev = p.seq
		}
	}
	end := sh.sess.K.M.Recorded()
	contains(t, "back", sh.must(t, "back 5"), fmt.Sprintf("back at event #%d ", end-5))
	if sh.reexecStart+2*spacing(end) < end {
		t.Errorf("back 5 from %d started after event %d", end, sh.reexecStart)
	}
}
