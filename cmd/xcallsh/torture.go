package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/xcallsh/xcallsh/machines"
	"github.com/xcallsh/xcallsh/scftorture"
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

// tortureFlagSet is torture's flags, with their defaults, writing into
// the given variables.
func tortureFlagSet(p *scftorture.Params, machine *string, seed *uint64, fixes, drops *listFlag, stall *time.Duration, stderr io.Writer) *flag.FlagSet {
	*p = scftorture.DefaultParams()
	fs := newFlagSet("torture", stderr)
	machineFlags(fs, machine)
	fs.Uint64Var(seed, "seed", 0, "seed of the run")
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
	fs.Var(fixes, "fix", "NAME=on|off: a historical fix (repeatable)")
	fs.Var(drops, "ipi-drop", "CPU:N: lose every Nth IPI to CPU (repeatable)")
	fs.Var(durationFlag{stall}, "stall-timeout", "virtual time without progress that counts as a stall (0: the default)")
	return fs
}

func cmdTorture(args []string, stdout, stderr io.Writer) int {
	var p scftorture.Params
	var machine string
	var seed uint64
	var fixes, drops listFlag
	var stall time.Duration
	fs := tortureFlagSet(&p, &machine, &seed, &fixes, &drops, &stall, stderr)
	pos, err := parseArgs(fs, args)
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "xcallsh torture: "+format+"\n", a...)
		return exitBadArgs
	}
	if err != nil {
		return exitBadArgs
	}
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
			return bad("%s", rangeErr(r.flag, int64(r.v), int64(r.lo), int64(r.hi)))
		}
	}
	if int64(stall) > maxVirtual {
		return bad("--stall-timeout %v is out of range 0 to %v", stall, time.Duration(maxVirtual))
	}
	if len(pos) > 0 {
		return bad("unexpected argument %q", pos[0])
	}
	name := machine
	if name == "" {
		name = machines.Default
	}
	spec, err := machines.Load(name)
	if err != nil {
		return bad("%v", err)
	}
	var opts []scftorture.Option
	for _, f := range fixes {
		n, v, ok := strings.Cut(f, "=")
		if !ok || (v != "on" && v != "off") {
			return bad("bad --fix %q (want NAME=on or NAME=off)", f)
		}
		opts = append(opts, scftorture.WithFix(n, v == "on"))
	}
	for _, d := range drops {
		c, n, ok := strings.Cut(d, ":")
		cpu, err1 := strconv.Atoi(c)
		every, err2 := strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil || cpu < 0 || cpu >= spec.CPUs || every < 1 {
			return bad("bad --ipi-drop %q (want CPU:N, CPU in 0-%d, N >= 1)", d, spec.CPUs-1)
		}
		opts = append(opts, scftorture.WithIPIDrop(cpu, every))
	}
	if stall > 0 {
		opts = append(opts, scftorture.WithStallTimeout(int64(stall)))
	}
	out := &errWriter{w: stdout}
	start := time.Now()
	res, err := scftorture.Run(spec, seed, p, out, opts...)
	if err == nil {
		fmt.Fprintln(out, speedLine(res, time.Since(start)))
	}
	if out.err != nil {
		fmt.Fprintf(stderr, "xcallsh torture: writing the output: %v\n", out.err)
		return exitFailed
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
