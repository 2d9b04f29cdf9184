package shell

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The timeline command takes a range, FROM..TO, as `run --timeline` does,
// and says what is wrong with a bad one.
func TestTimelineRange(t *testing.T) {
	sh := newTestShell(t, "x86-4", 0)
	sh.must(t, "stall 1 2ms")
	sh.must(t, "on 0 return smp_call_function_single(1, function() end, nil, 1)")
	first := func(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }
	for cmd, want := range map[string]string{
		"timeline 1ms..1.5ms":    "timeline 0.001000000s .. 0.001500000s, 10us per column",
		"timeline ..100ns 0-1":   "timeline 0.000000000s .. 0.000000100s, 2ns per column",
		"timeline 2ms..":         "timeline 0.002000000s .. 0.002000450s, 10ns per column",
		"timeline all":           "timeline 0.000000000s .. 0.002000450s, 50us per column",
		"timeline 0..2.0005ms 1": "timeline 0.000000000s .. 0.002000500s, 50us per column",
	} {
		if got := first(sh.must(t, cmd)); got != want {
			t.Errorf("%s: got %q, want %q", cmd, got, want)
		}
	}
	for cmd, want := range map[string]string{
		"timeline 1ms..x":   `timeline: bad time range "1ms..x": bad duration "x" (use e.g. 6s, 250ms, 10us, 100ns)`,
		"timeline 3ms..1ms": `timeline: bad time range "3ms..1ms": it ends before it starts (want FROM < TO)`,
		"timeline 1s..":     `timeline: the time range 1s.. starts after the end of the run (0.002000450s)`,
	} {
		if got := sh.Exec(cmd); !strings.Contains(got, want) {
			t.Errorf("%s: got %q, want %q", cmd, got, want)
		}
	}
}

// A dropped IPI is drawn as lost in the shell's timeline, and the Perfetto
// file has no arrow for it.
func TestTimelineLostIPI(t *testing.T) {
	sh := newTestShell(t, "x86-4", 0)
	sh.must(t, "param csdlock_debug 1")
	sh.must(t, "param csd_lock_timeout 1s")
	sh.must(t, "drop 2")
	sh.must(t, "on 0 return smp_call_function_single(2, function() end, nil, 1)")
	got := sh.must(t, "timeline 0..200ns")
	for _, want := range []string{
		"CPU0    ====X",
		"CPU2    ....~~~~~~~~X",
		"        X IPI lost: dropped, never delivered (sender and target)",
		"        CPU0 > CPU2  sent +20ns, LOST +60ns (dropped)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
}

// trace FILE.dat writes trace-cmd's trace.dat of the run since boot, with
// as many events as the ftrace text; trace-cmd report (when installed)
// reads it back.
func TestTraceDat(t *testing.T) {
	sh := newTestShell(t, "x86-4", 0)
	sh.must(t, "on 0 return smp_call_function_single(1, function() end, nil, 1)")
	dir := t.TempDir()
	dat, txt := filepath.Join(dir, "t.dat"), filepath.Join(dir, "t.txt")
	contains(t, "trace .dat", sh.must(t, "trace "+dat), "wrote "+dat+": trace-cmd trace.dat (trace-cmd report reads it), 9 tracepoint hits, up to 0.000001510s")
	contains(t, "trace .txt", sh.must(t, "trace "+txt), "ftrace text, 9 tracepoint hits")
	b, err := os.ReadFile(dat)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x17\x08\x44tracing6\x00")) {
		t.Fatalf("%s is not a trace.dat: %q", dat, b[:min(len(b), 16)])
	}
	tc, err := exec.LookPath("trace-cmd")
	if err != nil {
		t.Log("trace-cmd is not installed: the trace.dat is not read back")
		return
	}
	out, err := exec.Command(tc, "report", dat).CombinedOutput()
	if err != nil {
		t.Fatalf("trace-cmd report: %v\n%s", err, out)
	}
	contains(t, "trace-cmd report", string(out), "csd_queue_cpu:        cpu=1", "csd_function_entry:   func=on_1_1")
}
