package scftorture

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/machines"
	"github.com/xcallsh/xcallsh/xcall"
)

func runTorture(t *testing.T, machine string, seed uint64, p Params, opts ...Option) (*Result, string) {
	t.Helper()
	spec, err := machines.Builtin(machine)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := Run(spec, seed, p, &out, opts...)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	return res, out.String()
}

// lines returns the log's lines without their "[    0.000000] " stamps.
func tortureLines(log string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		if i := strings.Index(l, "] "); strings.HasPrefix(l, "[") && i > 0 {
			l = l[i+2:]
		}
		out = append(out, l)
	}
	return out
}

func findLine(lines []string, prefix string) string {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

const defaultParmsTail = "verbose=0 holdoff=0 longwait=0 nthreads=%s onoff_holdoff=0 onoff_interval=0 shutdown_secs=0 stat_interval=60 stutter=5 use_cpus_read_lock=0, weight_resched=-1, weight_single=-1, weight_single_rpc=-1, weight_single_wait=-1, weight_many=-1, weight_many_wait=-1, weight_all=-1, weight_all_wait=-1"

// TestTortureDefaults checks the init and end output of a run with the
// module's defaults, line for line.
func TestTortureDefaults(t *testing.T) {
	p := DefaultParams()
	p.Duration = 50_000_000
	res, log := runTorture(t, "x86-4", 0, p)
	lines := tortureLines(log)
	want := []string{
		"torture module --- scftorture:  disable_onoff_at_boot=0 ftrace_dump_at_shutdown=0 verbose_sleep_frequency=0 verbose_sleep_duration=1 random_shuffle=0",
		"scftorture: --- Start of test:  " + strings.Replace(defaultParmsTail, "%s", "-1", 1),
		"scftorture: !!! built as module, weight_resched ignored",
		"scf_sel_dump:  26.666 smp_call_function_single(nowait)",
		"scf_sel_dump:  26.666 smp_call_function_single_rpc(wait)",
		"scf_sel_dump:  26.666 smp_call_function_single(wait)",
		"scf_sel_dump:   6.666 smp_call_function_many(nowait)",
		"scf_sel_dump:   6.666 smp_call_function_many(wait)",
		"scf_sel_dump:   3.333 smp_call_function(nowait)",
		"scf_sel_dump:   3.333 smp_call_function(wait)",
	}
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "torture module ---") {
			start = i
			break
		}
	}
	if start < 0 || len(lines) < start+len(want) {
		t.Fatalf("no init lines in:\n%s", log)
	}
	for i, w := range want {
		if got := lines[start+i]; got != w {
			t.Errorf("init line %d:\n got %q\nwant %q", i, got, w)
		}
	}
	// nthreads=-1 was resolved into the parameter itself by the End line.
	if got, w := findLine(lines, "scftorture: --- End of test"), "scftorture: --- End of test: SUCCESS:  "+strings.Replace(defaultParmsTail, "%s", "4", 1); got != w {
		t.Errorf("End line:\n got %q\nwant %q", got, w)
	}
	if res.Verdict != "SUCCESS" || res.Invocations == 0 {
		t.Errorf("verdict %q, %d invocations", res.Verdict, res.Invocations)
	}
	if res.Stats.Resched != 0 {
		t.Errorf("resched_cpu used as a module: %d", res.Stats.Resched)
	}
	// The End line is the last: the speed line is xcallsh torture's.
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "scftorture: --- End of test") {
		t.Errorf("last line: %q", last)
	}
	if res.VirtualTime < p.Duration || res.VirtualTime > p.Duration+Jiffy {
		t.Errorf("virtual time %d ns, want the End line soon after %d", res.VirtualTime, p.Duration)
	}
}

// statsRE is the statistics line, exactly as scftorture and the torture
// core format it.
var statsRE = regexp.MustCompile(`^scftorture:  (!!! )?scf_invoked_count (ver|VER): (\d+) resched: 0 single: (\d+)/(\d+) single_ofl: (\d+)/(\d+) single_rpc: (\d+) single_rpc_ofl: 0 many: (\d+)/(\d+) all: (\d+)/(\d+) onoff: (\d+)/(\d+):(\d+)/(\d+) (-?\d+),(\d+):(-?\d+),(\d+) (\d+):(\d+) \(HZ=1000\) ste: (\d+) stnmie: (\d+) stnmoe: (\d+) staf: (\d+)$`)

// TestTortureHotplug runs the default mix on x86-4 with CPU hotplug.
func TestTortureHotplug(t *testing.T) {
	p := DefaultParams()
	p.Duration = 600_000_000
	p.OnoffInterval = 15 * Jiffy
	p.StatInterval = 200_000_000
	res, log := runTorture(t, "x86-4", 3, p)
	if res.Verdict != "SUCCESS" {
		t.Fatalf("verdict %q:\n%s", res.Verdict, log)
	}
	if res.Invocations == 0 || res.Onoff.OfflineSuccesses == 0 || res.Onoff.OnlineSuccesses == 0 {
		t.Fatalf("invocations %d, onoff %+v", res.Invocations, res.Onoff)
	}
	if res.Stats.SingleOfl == 0 && res.Stats.SingleWaitOfl == 0 {
		t.Errorf("no single call ever met an offline CPU: %+v", res.Stats)
	}
	if res.Onoff.OfflineAttempts != res.Onoff.OfflineSuccesses || res.Onoff.OnlineAttempts != res.Onoff.OnlineSuccesses {
		t.Errorf("failed hotplug operations: %+v", res.Onoff)
	}
	var stats []string
	for _, l := range tortureLines(log) {
		if strings.HasPrefix(l, "scftorture:  ") {
			stats = append(stats, l)
		}
	}
	// Three periodic lines (0.2, 0.4, 0.6 s), the stats thread's last one
	// when kthread_stop() wakes it, and the cleanup's.
	if len(stats) != 5 {
		t.Fatalf("%d statistics lines, want 5:\n%s", len(stats), strings.Join(stats, "\n"))
	}
	for i, l := range stats {
		m := statsRE.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("statistics line does not match:\n%s", l)
		}
		if ver := map[bool]string{true: "VER", false: "ver"}[i >= 3]; m[2] != ver {
			t.Errorf("line %d says %s, want %s", i, m[2], ver)
		}
		if m[1] != "" {
			t.Errorf("error flag in %s", l)
		}
	}
	final := statsRE.FindStringSubmatch(stats[4])
	if final[3] == "0" || final[13] == "0" || final[15] == "0" {
		t.Errorf("final line has no invocations or no hotplug: %s", stats[4])
	}
}

// TestTortureDeterministic runs the same seed twice: same log, byte for byte.
func TestTortureDeterministic(t *testing.T) {
	p := DefaultParams()
	p.Duration = 150_000_000
	p.OnoffInterval = 7 * Jiffy
	p.StatInterval = 50_000_000
	r1, log1 := runTorture(t, "x86-4", 42, p)
	r2, log2 := runTorture(t, "x86-4", 42, p)
	if log1 != log2 {
		t.Fatalf("two runs of seed 42 differ:\n%s\n---\n%s", log1, log2)
	}
	if r1.Hash != r2.Hash || r1.Verdict != "SUCCESS" {
		t.Fatalf("hashes %x %x, verdict %q", r1.Hash, r2.Hash, r1.Verdict)
	}
	_, log3 := runTorture(t, "x86-4", 43, p)
	if log3 == log1 {
		t.Errorf("seeds 42 and 43 gave the same log")
	}
}

// TestTortureArm64 runs hotplug on arm64, where CPU 0 can go offline too.
func TestTortureArm64(t *testing.T) {
	p := DefaultParams()
	p.Duration = 200_000_000
	p.OnoffInterval = 5 * Jiffy
	p.UseCPUsReadLock = true
	res, log := runTorture(t, "arm64-8", 5, p)
	if res.Verdict != "SUCCESS" || res.Onoff.OfflineSuccesses == 0 {
		t.Fatalf("verdict %q, onoff %+v:\n%s", res.Verdict, res.Onoff, log)
	}
}

// TestTortureDyingFlushOff: without 8d056c48e486 a CPU going down keeps
// what was queued to it after it disabled interrupts for stop_machine, and
// takes the IPI once offline: "IPI on offline CPU", a failure. The window
// is a race (a no-wait call in flight as the stoppers disable interrupts),
// so the test tries a few seeds; without stutter pauses about half of
// 200 ms runs hit it. The seed that fails succeeds with the fix.
func TestTortureDyingFlushOff(t *testing.T) {
	p := DefaultParams()
	p.Duration = 200_000_000
	p.OnoffInterval = 5 * Jiffy
	p.Stutter = 0
	for seed := uint64(0); seed < 10; seed++ {
		res, log := runTorture(t, "x86-4", seed, p, WithFix(xcall.FixDyingFlush.String(), false))
		if res.Verdict == "SUCCESS" {
			continue
		}
		lines := tortureLines(log)
		if res.Verdict != "FAILURE" || res.KernelWarnings == 0 || findLine(lines, "IPI on offline CPU") == "" ||
			findLine(lines, "scftorture: !!! 1 kernel WARNING") == "" || findLine(lines, "scftorture: --- End of test: FAILURE:") == "" {
			t.Fatalf("seed %d: verdict %q, %d warnings:\n%s", seed, res.Verdict, res.KernelWarnings, log)
		}
		if res, log := runTorture(t, "x86-4", seed, p); res.Verdict != "SUCCESS" {
			t.Fatalf("seed %d with the fix: %q\n%s", seed, res.Verdict, log)
		}
		return
	}
	t.Fatal("dying_flush off: no seed of 0-9 failed")
}

// TestTortureIPIDrop: a lost IPI leaves the csd on the target's queue for
// good; callers waiting for it stall, and the watchdog fails the test.
// With CSD-lock debugging the report re-sends the IPI and rescues the run,
// unless csd_resend_ipi is off.
func TestTortureIPIDrop(t *testing.T) {
	p := DefaultParams()
	p.Duration = 100_000_000
	p.Stutter = 0 // the kthreads never sleep: no idle loop on CPU 2 drains its queue
	debug := WithKernel(func(k *xcall.Kernel) error { k.CSDLockDebug = true; return nil })

	res, log := runTorture(t, "x86-4", 0, p, WithIPIDrop(2, 500), WithStallTimeout(2*scfSecond))
	if res.Verdict != "FAILURE" || len(res.Stalls) == 0 || res.IPIsDropped == 0 {
		t.Fatalf("verdict %q, stalls %q, %d dropped:\n%s", res.Verdict, res.Stalls, res.IPIsDropped, log)
	}
	// Every invoker ends up waiting for CPU 2 (the machine is stuck), or
	// CPU 2's own invoker goes on and the others stall.
	if !strings.Contains(log, "scftorture: !!! ") || !strings.Contains(log, "owned by CPU2") {
		t.Errorf("no stall report naming CPU 2:\n%s", log)
	}

	res, log = runTorture(t, "x86-4", 0, p, WithIPIDrop(2, 500), debug)
	if res.Verdict != "SUCCESS" || res.CSDReports == 0 || !strings.Contains(log, "Re-sending CSD lock") {
		t.Fatalf("re-send did not rescue: %q, %d reports:\n%s", res.Verdict, res.CSDReports, log)
	}

	res, log = runTorture(t, "x86-4", 0, p, WithIPIDrop(2, 500), debug, WithFix(xcall.FixCSDResendIPI.String(), false), WithStallTimeout(8*scfSecond))
	if res.Verdict != "FAILURE" || res.CSDReports == 0 || len(res.Stalls) == 0 {
		t.Fatalf("verdict %q, %d reports, stalls %q:\n%s", res.Verdict, res.CSDReports, res.Stalls, log)
	}
}

// TestTortureZeroWeights: the module refuses to load.
func TestTortureZeroWeights(t *testing.T) {
	p := DefaultParams()
	p.WeightResched, p.WeightSingle, p.WeightSingleRPC, p.WeightSingleWait = 0, 0, 0, 0
	p.WeightMany, p.WeightManyWait, p.WeightAll, p.WeightAllWait = 0, 0, 0, 0
	spec, _ := machines.Builtin("x86-4")
	var out bytes.Buffer
	res, err := Run(spec, 0, p, &out)
	if !errors.Is(err, ErrZeroWeights) {
		t.Fatalf("err = %v, want ErrZeroWeights", err)
	}
	lines := tortureLines(out.String())
	if findLine(lines, "scftorture: !!! all zero weights makes no sense") == "" {
		t.Errorf("no refusal line:\n%s", out.String())
	}
	if findLine(lines, "scftorture: --- End of test") != "" || res.Verdict != "" {
		t.Errorf("an End line after a failed init:\n%s", out.String())
	}
}

// TestTortureWeights: explicit weights leave the others at 0.
func TestTortureWeights(t *testing.T) {
	p := DefaultParams()
	p.Duration = 20_000_000
	p.WeightSingleWait, p.WeightAll = 3, 1
	res, log := runTorture(t, "x86-4", 0, p)
	lines := tortureLines(log)
	if findLine(lines, "scftorture: !!! built as module") != "" {
		t.Errorf("resched warning without a resched weight")
	}
	if findLine(lines, "scf_sel_dump:  75.000 smp_call_function_single(wait)") == "" ||
		findLine(lines, "scf_sel_dump:  25.000 smp_call_function(nowait)") == "" {
		t.Errorf("selector dump:\n%s", log)
	}
	s := res.Stats
	if s.SingleWait == 0 || s.All == 0 || s.Single+s.SingleRPC+s.Many+s.ManyWait+s.AllWait != 0 {
		t.Errorf("stats %+v", s)
	}
}
