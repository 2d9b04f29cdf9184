package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/units"
	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
	"github.com/xcallsh/xcallsh/scftorture"
	"github.com/xcallsh/xcallsh/xcall"
)

// unitFlag is a time-valued scftorture parameter: a duration ("50ms"), or a
// bare integer in the module's own unit (seconds or jiffies).
type unitFlag struct {
	dst  *int64
	unit int64
}

// maxVirtual bounds every time-valued torture parameter: a year of
// virtual time, longer than any test runs (the kernel's own tests run for
// hours), and far from overflowing nanoseconds.
const maxVirtual = int64(365 * 24 * time.Hour)

// Bounds of torture's integer parameters.
const (
	maxThreads = 8192    // the largest machine's CPUs; more invokers only queue
	maxWeight  = 1000000 // relative weights; their sum stays far from overflowing
	maxVerbose = 9
)

// rangeErr says that flag's value v is outside lo..hi.
func rangeErr(flag string, v, lo, hi int64) string {
	if lo < 0 {
		return fmt.Sprintf("%s %d is out of range %d to %d", flag, v, lo, hi)
	}
	return fmt.Sprintf("%s %d is out of range %d-%d", flag, v, lo, hi)
}

func (f unitFlag) String() string {
	if f.dst == nil {
		return ""
	}
	return time.Duration(*f.dst).String()
}

func (f unitFlag) Set(s string) error {
	var v int64
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > maxVirtual/f.unit {
			return fmt.Errorf("%s is out of range 0-%d (0 to %v)", s, maxVirtual/f.unit, time.Duration(maxVirtual))
		}
		v = n * f.unit
	} else {
		d, err := parseDuration(s)
		if err != nil {
			return err
		}
		if int64(d) > maxVirtual {
			return fmt.Errorf("%s is out of range 0 to %v", s, time.Duration(maxVirtual))
		}
		v = int64(d)
	}
	*f.dst = v
	return nil
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// tortureArgs are torture's flags, parsed.
type tortureArgs struct {
	p             scftorture.Params
	machine       string
	seed          uint64
	seedSet       bool
	fixes, drops  listFlag
	stall         time.Duration
	trace, report string
	// given are the flags as typed, in order: what the rerun line and a
	// report's torture(...) call repeat.
	given []givenFlag
}

// givenFlag is one flag as typed: --name=value.
type givenFlag struct{ name, value string }

func (g givenFlag) String() string { return "--" + g.name + "=" + g.value }

// runOwn are the flags of torture that belong to the run, not to the
// module: a torture(...) call in a script takes none of them (its
// machine and seed are the run's).
var runOwn = map[string]bool{"m": true, "machine": true, "seed": true, "trace": true, "report": true}

// tortureFlagSet is torture's flags, with their defaults, writing into a.
func tortureFlagSet(a *tortureArgs, stderr io.Writer) *flag.FlagSet {
	p := &a.p
	*p = scftorture.DefaultParams()
	fs := newFlagSet("torture", stderr)
	machineFlags(fs, &a.machine)
	fs.Var(seedFlag{&a.seed, &a.seedSet}, "seed", "seed `N` of the run (0 = the canonical schedule)")
	sec, jiffy := int64(1e9), scftorture.Jiffy
	fs.Var(unitFlag{&p.Duration, sec}, "duration", "virtual time until rmmod")
	fs.Var(unitFlag{&p.Holdoff, sec}, "holdoff", "seconds each invoker sleeps before starting")
	fs.Var(unitFlag{&p.Longwait, sec}, "longwait", "seconds a handler may busy-wait now and then")
	fs.IntVar(&p.Nthreads, "nthreads", p.Nthreads, "invoker threads (-1: online CPUs)")
	fs.Var(unitFlag{&p.OnoffHoldoff, sec}, "onoff-holdoff", "seconds before the first hotplug operation")
	fs.Var(unitFlag{&p.OnoffInterval, jiffy}, "onoff-interval", "jiffies between hotplug operations (0: none)")
	fs.Var(unitFlag{&p.ShutdownSecs, sec}, "shutdown-secs", "seconds until the module ends the test")
	fs.Var(unitFlag{&p.StatInterval, sec}, "stat-interval", "seconds between statistics lines")
	fs.Var(unitFlag{&p.Stutter, jiffy}, "stutter", "jiffies of stutter")
	fs.BoolVar(&p.UseCPUsReadLock, "use-cpus-read-lock", p.UseCPUsReadLock, "cpus_read_lock() instead of preempt_disable()")
	fs.IntVar(&p.Verbose, "verbose", p.Verbose, "verbosity")
	for _, w := range []struct {
		name string
		dst  *int
	}{{"resched", &p.WeightResched}, {"single", &p.WeightSingle}, {"single-rpc", &p.WeightSingleRPC},
		{"single-wait", &p.WeightSingleWait}, {"many", &p.WeightMany}, {"many-wait", &p.WeightManyWait},
		{"all", &p.WeightAll}, {"all-wait", &p.WeightAllWait}} {
		fs.IntVar(w.dst, "weight-"+w.name, *w.dst, "relative weight of "+w.name)
	}
	fs.Var(&a.fixes, "fix", "NAME=on|off: a historical fix (repeatable)")
	fs.Var(&a.drops, "ipi-drop", "CPU:N: lose every Nth IPI to CPU (repeatable)")
	fs.Var(durationFlag{&a.stall}, "stall-timeout", "virtual time without progress that counts as a stall (0: the default)")
	fs.StringVar(&a.trace, "trace", "", "write the trace to `FILE` (.json: Perfetto, else ftrace text), as run does")
	fs.StringVar(&a.report, "report", "", "write a report of this run to `FILE` (xcallsh run FILE replays it)")
	return fs
}

// recordedValue is a flag's value that remembers what was typed.
type recordedValue struct {
	flag.Value
	name  string
	given *[]givenFlag
}

func (r *recordedValue) Set(s string) error {
	if err := r.Value.Set(s); err != nil {
		return err
	}
	*r.given = append(*r.given, givenFlag{r.name, s})
	return nil
}

func (r *recordedValue) IsBoolFlag() bool {
	b, ok := r.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// parseTorture parses and checks torture's arguments. A bad one is said
// on stderr (the flag package's errors and usage) or in the error, which
// is then the message without the command's name.
func parseTorture(args []string, stderr io.Writer) (a *tortureArgs, pos []string, flagErr bool, err error) {
	a = new(tortureArgs)
	fs := tortureFlagSet(a, stderr)
	fs.VisitAll(func(f *flag.Flag) { f.Value = &recordedValue{f.Value, f.Name, &a.given} })
	pos, err = parseArgs(fs, args)
	if err != nil {
		return nil, nil, true, err
	}
	p := &a.p
	ints := []struct {
		flag      string
		v, lo, hi int
	}{{"--nthreads", p.Nthreads, -1, maxThreads}, {"--verbose", p.Verbose, 0, maxVerbose}}
	for _, w := range []struct {
		name string
		v    int
	}{{"resched", p.WeightResched}, {"single", p.WeightSingle}, {"single-rpc", p.WeightSingleRPC},
		{"single-wait", p.WeightSingleWait}, {"many", p.WeightMany}, {"many-wait", p.WeightManyWait},
		{"all", p.WeightAll}, {"all-wait", p.WeightAllWait}} {
		ints = append(ints, struct {
			flag      string
			v, lo, hi int
		}{"--weight-" + w.name, w.v, -1, maxWeight})
	}
	for _, r := range ints {
		if r.v < r.lo || r.v > r.hi {
			return nil, nil, false, errors.New(rangeErr(r.flag, int64(r.v), int64(r.lo), int64(r.hi)))
		}
	}
	if int64(a.stall) > maxVirtual {
		return nil, nil, false, fmt.Errorf("--stall-timeout %v is out of range 0 to %v", a.stall, time.Duration(maxVirtual))
	}
	return a, pos, false, nil
}

// options are scftorture's options for a run on spec: the fixes, the IPI
// drops and the stall timeout.
func (a *tortureArgs) options(spec *machines.Spec) ([]scftorture.Option, error) {
	var opts []scftorture.Option
	for _, f := range a.fixes {
		n, v, ok := strings.Cut(f, "=")
		if !ok || (v != "on" && v != "off") {
			return nil, fmt.Errorf("bad --fix %q (want NAME=on or NAME=off)", f)
		}
		opts = append(opts, scftorture.WithFix(n, v == "on"))
	}
	for _, d := range a.drops {
		c, n, ok := strings.Cut(d, ":")
		cpu, err1 := strconv.Atoi(c)
		every, err2 := strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil || cpu < 0 || cpu >= spec.CPUs || every < 1 {
			return nil, fmt.Errorf("bad --ipi-drop %q (want CPU:N, CPU in 0-%d, N >= 1)", d, spec.CPUs-1)
		}
		opts = append(opts, scftorture.WithIPIDrop(cpu, every))
	}
	if a.stall > 0 {
		opts = append(opts, scftorture.WithStallTimeout(int64(a.stall)))
	}
	return opts, nil
}

// moduleFlags are the flags given that are the module's, not the run's
// (runOwn), as typed.
func (a *tortureArgs) moduleFlags() []string {
	var out []string
	for _, g := range a.given {
		if !runOwn[g.name] {
			out = append(out, g.String())
		}
	}
	return out
}

// rerunLine is torture's first line: the seed, and the command that runs
// the same test again, to paste into a shell.
func (a *tortureArgs) rerunLine(machine string) string {
	cmd := []string{"xcallsh", "torture", "-m", shellQuote(machine), "--seed", fmt.Sprint(a.seed)}
	for _, g := range a.given {
		if g.name != "m" && g.name != "machine" && g.name != "seed" {
			cmd = append(cmd, shellQuote(g.String()))
		}
	}
	return fmt.Sprintf("xcallsh torture: seed %d; run it again with: %s", a.seed, strings.Join(cmd, " "))
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_=.,:/+@%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func cmdTorture(args []string, stdout, stderr io.Writer) int {
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "xcallsh torture: "+format+"\n", a...)
		return exitBadArgs
	}
	a, pos, flagErr, err := parseTorture(args, stderr)
	switch {
	case flagErr:
		return exitBadArgs
	case err != nil:
		return bad("%v", err)
	case len(pos) > 0:
		return bad("unexpected argument %q", pos[0])
	}
	name := a.machine
	if name == "" {
		name = machines.Default
	}
	spec, err := machines.Load(name)
	if err != nil {
		return bad("%v", err)
	}
	opts, err := a.options(spec)
	if err != nil {
		return bad("%v", err)
	}
	for _, o := range []struct{ flag, name string }{{"--trace", a.trace}, {"--report", a.report}} {
		if o.name == "" {
			continue
		}
		if err := checkWritable(o.flag, o.name); err != nil {
			return bad("%v", err)
		}
	}
	out := &errWriter{w: stdout}
	fmt.Fprintln(out, a.rerunLine(spec.Name))
	if a.trace != "" || a.report != "" {
		return tortureRecorded(a, spec, out, stderr)
	}
	prog := startProgress(stderr) // progress.go: nil unless stderr is a terminal
	watch := prog.watch(nil)
	// Ctrl-C interrupts the machine, which may not be booted yet: whichever
	// of the two comes second does it.
	var kern atomic.Pointer[xcall.Kernel]
	var ctrlC atomic.Bool
	opts = append(opts, scftorture.WithKernel(func(k *xcall.Kernel) error {
		if watch != nil {
			watch(k)
		}
		kern.Store(k)
		if ctrlC.Load() {
			k.M.Interrupt()
		}
		return nil
	}))
	stopWatching := onInterrupt(func() {
		ctrlC.Store(true)
		if k := kern.Load(); k != nil {
			k.M.Interrupt()
		}
	})
	start := time.Now()
	res, err := scftorture.Run(spec, a.seed, a.p, prog.Writer(out), opts...)
	stopWatching()
	prog.Stop()
	if err == nil {
		fmt.Fprintln(out, speedLine(res, time.Since(start)))
	}
	if out.err != nil {
		fmt.Fprintf(stderr, "xcallsh torture: writing the output: %v\n", out.err)
		return exitFailed
	}
	if errors.Is(err, emu.ErrInterrupted) {
		at := "before the boot"
		if res != nil {
			at = "at " + units.Virtual(res.VirtualTime) + " virtual"
		}
		fmt.Fprintf(stderr, "xcallsh torture: interrupted %s (Ctrl-C), with no verdict\n", at)
		return exitInterrupted
	}
	if err != nil {
		if errors.Is(err, scftorture.ErrZeroWeights) {
			fmt.Fprintln(stderr, "xcallsh torture:", err)
			return exitFailed
		}
		return bad("%v", err)
	}
	if res.Verdict != "SUCCESS" {
		return exitFailed
	}
	return exitOK
}

// speedLine is the line after the module's output: the virtual time the
// run covered and how fast the host went through it.
func speedLine(r *scftorture.Result, host time.Duration) string {
	rate := "n/a"
	if h := host.Seconds(); h > 0 {
		rate = fmt.Sprintf("%.0f", float64(r.Invocations)/h)
	}
	return fmt.Sprintf("xcallsh torture: %d.%09d s virtual, %d handler invocations in %.3f s host: %s invocations per host second",
		r.VirtualTime/1e9, r.VirtualTime%1e9, r.Invocations, host.Seconds(), rate)
}

// errWriter passes writes through and keeps the first error (the writer
// of torture's output does not look at errors).
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	if _, err := e.w.Write(p); err != nil {
		e.err = err
	}
	return len(p), nil
}
