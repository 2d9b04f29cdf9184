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
	"github.com/xcallsh/xcallsh/xcall"
)

// unitFlag is a time-valued scftorture parameter: a duration ("50ms"), or a
// bare integer in the module's own unit (seconds or jiffies).
type unitFlag struct {
	dst  *int64
	unit int64
}

func (f unitFlag) String() string {
	if f.dst == nil {
		return ""
	}
	return time.Duration(*f.dst).String()
}

func (f unitFlag) Set(s string) error {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*f.dst = n * f.unit
		return nil
	}
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*f.dst = int64(d)
	return nil
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func cmdTorture(args []string, stdout, stderr io.Writer) int {
	p := xcall.DefaultTortureParams()
	var machine string
	var seed uint64
	var fixes, drops listFlag
	var stall time.Duration
	fs := flag.NewFlagSet("torture", flag.ContinueOnError)
	fs.SetOutput(stderr)
	machineFlags(fs, &machine)
	fs.Uint64Var(&seed, "seed", 0, "seed of the run")
	sec, jiffy := int64(1e9), xcall.Jiffy
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
	fs.Var(&fixes, "fix", "NAME=on|off: a historical fix (repeatable)")
	fs.Var(&drops, "ipi-drop", "CPU:N: lose every Nth IPI to CPU (repeatable)")
	fs.Var(durationFlag{&stall}, "stall-timeout", "virtual time without progress that counts as a stall")
	pos, err := parseArgs(fs, args)
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "xcallsh torture: "+format+"\n", a...)
		return exitBadArgs
	}
	if err != nil {
		return exitBadArgs
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
	var opts []xcall.TortureOption
	for _, f := range fixes {
		n, v, ok := strings.Cut(f, "=")
		if !ok || (v != "on" && v != "off") {
			return bad("bad --fix %q (want NAME=on or NAME=off)", f)
		}
		opts = append(opts, xcall.WithFix(n, v == "on"))
	}
	for _, d := range drops {
		c, n, ok := strings.Cut(d, ":")
		cpu, err1 := strconv.Atoi(c)
		every, err2 := strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil || cpu < 0 || cpu >= spec.CPUs || every < 1 {
			return bad("bad --ipi-drop %q (want CPU:N, CPU in 0-%d, N >= 1)", d, spec.CPUs-1)
		}
		opts = append(opts, xcall.WithIPIDrop(cpu, every))
	}
	if stall > 0 {
		opts = append(opts, xcall.WithStallTimeout(int64(stall)))
	}
	res, err := xcall.RunTorture(spec, seed, p, stdout, opts...)
	if err != nil {
		if errors.Is(err, xcall.ErrZeroWeights) {
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
