package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/child"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/files"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/report"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/session"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/shell"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/traces"
	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/luabind"
	"github.com/xcallsh/xcallsh/machines"
	"github.com/xcallsh/xcallsh/scftorture"
	"github.com/xcallsh/xcallsh/scripts"
	"github.com/xcallsh/xcallsh/xcall"
)

// runFlags are the flags of `xcallsh run`.
type runFlags struct {
	machine  string
	seed     uint64
	seedSet  bool
	trace    string
	report   string
	timeline bool
	tlRange  traces.Range // --timeline FROM..TO (zero: the whole run)
	tlErr    error        // a bad --timeline range
	quiet    bool
	timeout  time.Duration
	memLimit uint64 // --memory-limit, bytes (0: none)
	memModel string // --memory: "sc" or "native" overrides the machine's; "" keeps it

	hooks *childRunHooks // in a child: talks to the parent

	// A torture run (torturescript.go): the report's made-by, and who
	// gets the torture(...) call's result.
	madeBy    string
	onTorture func(*scftorture.Result)
}

// parseArgs parses flags that may come before or after positionals.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// machineFlags are -m and --machine, one flag under two names.
func machineFlags(fs *flag.FlagSet, machine *string) {
	fs.StringVar(machine, "m", "", "MACHINE: a built-in name or a TOML file")
	fs.StringVar(machine, "machine", "", "MACHINE: a built-in name or a TOML file")
}

// seedFlag is --seed N, remembering whether it was given.
type seedFlag struct {
	v   *uint64
	set *bool
}

func (f seedFlag) String() string {
	if f.v == nil {
		return "0"
	}
	return fmt.Sprint(*f.v)
}

func (f seedFlag) Set(s string) error {
	var v uint64
	if _, err := fmt.Sscan(s, &v); err != nil || fmt.Sprint(v) != s {
		return fmt.Errorf("bad seed %q (want an integer 0-%d)", s, uint64(math.MaxUint64))
	}
	*f.v, *f.set = v, true
	return nil
}

// runFlagSet is run's flags, with their defaults, writing into f.
func runFlagSet(f *runFlags, stderr io.Writer) *flag.FlagSet {
	fs := newFlagSet("run", stderr)
	machineFlags(fs, &f.machine)
	fs.Var(seedFlag{&f.seed, &f.seedSet}, "seed", "schedule seed `N` (0 = the canonical schedule; a report's own by default)")
	fs.StringVar(&f.trace, "trace", "", "write the trace to `FILE` (.json: Perfetto, .dat: trace-cmd's trace.dat, else ftrace text)")
	fs.StringVar(&f.report, "report", "", "write a self-verifying bug report of this run (a Lua file) to `FILE`")
	fs.Var(timelineFlag{&f.timeline, &f.tlRange, &f.tlErr}, "timeline", "print an ASCII timeline of the run, or of `[FROM..TO]` only (virtual times with units, 1ms..1.5ms; either side may be left out)")
	fs.BoolVar(&f.quiet, "quiet", false, "no summary line")
	f.timeout = 5 * time.Minute
	fs.Var(timeoutFlag{&f.timeout}, "timeout", "host-time limit for the whole run, a duration `D` (0: none)")
	f.memLimit = luabind.DefaultMemoryLimit
	fs.Var(memoryFlag{&f.memLimit}, "memory-limit", "memory limit of the run, a `SIZE` (0: none)")
	fs.Var(memModelFlag{&f.memModel}, "memory", "memory model `sc|native`, overriding the machine's [memory] model (docs/memory.md)")
	return fs
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	var f runFlags
	fs := runFlagSet(&f, stderr)
	args = timelineArgs(args)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return exitBadArgs
	}
	if f.tlErr != nil {
		fmt.Fprintf(stderr, "xcallsh run: --timeline: %v\n", f.tlErr)
		return exitBadArgs
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "xcallsh run: want one script or scenario name, got %d\n\n%s", len(pos), usage())
		return exitBadArgs
	}
	name, src, err := loadScript(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "xcallsh: %v\n", err)
		return exitBadArgs
	}
	if child.Mode() == "run" {
		// The child of superviseRun: stderr and the parent's control
		// pipe are fds it was given.
		child.Setup()
		errOut := os.NewFile(childStderrFD, "stderr")
		f.hooks = &childRunHooks{ctl: os.NewFile(childControlFD, "control")}
		return runScript(name, src, f, stdout, errOut)
	}
	// Everything that can be checked before the run is, here, before any
	// child starts or any output file is touched.
	machine := machines.Default
	if report.IsReport(src) {
		h, err := report.Parse(name, src)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitBadArgs
		}
		machine = h.Machine
		if !f.seedSet {
			f.seed = h.Seed
		}
	}
	if f.machine != "" {
		probe, err := luabind.New(luabind.Options{Machine: f.machine, MachineForced: true})
		if err != nil {
			fmt.Fprintf(stderr, "xcallsh: %v\n", err)
			return exitBadArgs
		}
		machine = probe.Spec().Name
		probe.Close()
	}
	for _, o := range []struct{ flag, name string }{{"--trace", f.trace}, {"--report", f.report}} {
		if o.name == "" {
			continue
		}
		if err := checkWritable(o.flag, o.name); err != nil {
			fmt.Fprintf(stderr, "xcallsh: %v\n", err)
			return exitBadArgs
		}
	}
	if st, ok := superviseRun(args, name, f, machine, stdout, stderr); ok {
		return st
	}
	return runScript(name, src, f, stdout, stderr)
}

// loadScript reads a script file, or a built-in scenario by name.
func loadScript(arg string) (name, src string, err error) {
	if b, ferr := files.Read(arg); ferr == nil {
		return arg, string(b), nil
	} else if !errors.Is(ferr, os.ErrNotExist) || strings.HasSuffix(arg, ".lua") || strings.ContainsRune(arg, os.PathSeparator) {
		return "", "", fmt.Errorf("reading script: %w", ferr)
	}
	if s, ok := scripts.Lookup(arg); ok {
		return "scripts/" + arg + ".lua", s.Source, nil
	}
	var names []string
	for _, s := range scripts.All() {
		names = append(names, s.Name)
	}
	return "", "", fmt.Errorf("no script file and no built-in scenario named %q (built-in: %s)", arg, strings.Join(names, ", "))
}

// runScript runs one script (or report) in batch.
func runScript(name, src string, f runFlags, stdout, stderr io.Writer) int {
	var replay *report.Header
	if report.IsReport(src) {
		h, err := report.Parse(name, src)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitBadArgs
		}
		replay = h
		if !f.seedSet {
			f.seed = h.Seed
		}
	}
	rec := session.NewRecorder()
	rec.Log.Keep = f.report != ""
	rec.MemLimit = f.memLimit
	if f.memLimit == 0 {
		rec.MemLimit = session.NoMemoryLimit
	}
	timeout := f.timeout
	if child.BackstopOnly() {
		rec.MemLimit, timeout = session.NoMemoryLimit, 0
	}
	if f.hooks != nil {
		rec.OnBoot = f.hooks.boot
	}
	prog := startProgress(stderr) // progress.go: nil unless stderr is a terminal
	defer prog.Stop()
	rec.OnBoot = prog.watch(withMemory(f.memModel, rec.OnBoot))
	stdout = prog.Writer(stdout)
	if replay != nil {
		rec.Log.Expect(&replay.Sums)
	}
	jsonTrace := strings.HasSuffix(strings.ToLower(f.trace), ".json")
	if jsonTrace || f.timeline {
		rec.Act = traces.New()
	}
	fileTrace := f.trace != "" && !jsonTrace // ftrace text or trace.dat
	if fileTrace {
		rec.TraceFile = f.trace
	}
	var sched emu.SchedConfig
	if replay != nil {
		sched = replay.Sched()
	}
	sess, err := session.New(f.machine, f.machine != "", f.seed, sched, timeout, stdout, rec)
	if err != nil {
		fmt.Fprintf(stderr, "xcallsh: %v\n", err)
		return exitBadArgs
	}
	defer sess.Close()
	registerTorture(sess, stdout, f.onTorture)
	var ctrlC atomic.Bool
	defer watchInterrupt(sess, &ctrlC)()
	_, execErr := sess.Exec(name, src)
	prog.Stop()
	oc := session.Outcome(sess, execErr)
	interrupted := ctrlC.Load() && execErr != nil // Ctrl-C stopped the run (progress.go)
	if interrupted {
		oc.Kind = outcomeInterrupted
	}
	status := exitOK
	if execErr != nil {
		status = exitFailed
		if sess.BadMachine() {
			status = exitBadArgs // an invalid machine, if inline
		}
		fmt.Fprintln(stderr, execErr.Error())
	}
	if status == exitBadArgs {
		// A bad invocation writes no output file.
		f.trace, f.report, jsonTrace, fileTrace = "", "", false, false
	}
	if interrupted {
		status = exitInterrupted
		if f.report != "" {
			// Where Ctrl-C stopped the run is host timing: no replay could
			// stop there again.
			fmt.Fprintf(stderr, "xcallsh: no report written to %s: the run was interrupted, and a replay would not stop where it did\n", f.report)
			f.report = ""
		}
	}
	now := sess.K.M.Now()
	if fileTrace && rec.Trace != nil {
		err := files.Write(f.trace, func(w io.Writer) error {
			_, err := rec.Trace.WriteTo(w)
			return err
		})
		if c, ok := rec.Trace.(io.Closer); ok {
			c.Close()
		}
		if err != nil {
			fmt.Fprintf(stderr, "xcallsh: writing the trace: %v\n", err)
			status = exitFailed
		}
	}
	if jsonTrace {
		err := files.Write(f.trace, func(w io.Writer) error {
			return rec.Act.WriteJSON(w, now, rec.Log.Hash())
		})
		if err != nil {
			fmt.Fprintf(stderr, "xcallsh: writing the trace: %v\n", err)
			status = exitFailed
		}
	}
	if f.timeline {
		if from, to, err := f.tlRange.Resolve(now); err != nil {
			fmt.Fprintf(stderr, "xcallsh: --timeline: %v\n", err)
			status = max(status, exitFailed)
		} else {
			fmt.Fprint(stdout, rec.Act.Timeline(from, to, now, nil))
		}
	}
	if f.report != "" {
		flags := ""
		if f.machine != "" {
			flags += " -m " + f.machine
		}
		if f.seed != 0 {
			flags += fmt.Sprintf(" --seed %d", f.seed)
		}
		h := &report.Header{Seed: f.seed, Machine: sess.Spec().Name, Outcome: oc, Hash: rec.Log.Hash(), Sums: rec.Log.Sums()}
		if replay != nil {
			h.Strategy, h.Depth, h.Decisions = replay.Strategy, replay.Depth, replay.Decisions
		}
		madeBy := fmt.Sprintf("`xcallsh run %s%s`", name, flags)
		if f.madeBy != "" {
			madeBy = f.madeBy
		}
		spec, forced := reportMachine(sess.Spec(), f.memModel, f.machine != "")
		b := &report.Body{MadeBy: madeBy, Spec: spec,
			Forced: forced, Scenario: report.ScriptScenario(name, src)}
		if err := files.Write(f.report, func(w io.Writer) error { return report.Write(w, h, b) }); err != nil {
			fmt.Fprintf(stderr, "xcallsh: writing the report: %v\n", err)
			status = exitFailed
		}
	}
	if replay != nil && !interrupted {
		diff := rec.Log.Finish()
		if replay.Seal.Edited() {
			machine := sess.Spec().Name
			if f.machine != "" {
				machine = replay.Machine // -m chose it: the line cannot be checked
			}
			status = editedVerdict(stdout, name, replay, machine, oc, rec.Log.Hash(), rec.Log.Events(), diff)
		} else {
			status = verdict(stdout, replay, f.seed, oc, rec.Log.Hash(), rec.Log.Events(), diff)
		}
	}
	if !f.quiet {
		fmt.Fprintln(stderr, session.Summary(sess, oc.Kind, rec.Log.Hash()))
	}
	return status
}

// editedVerdict is the verdict on a report whose "--!" lines are not those
// its header-sum sealed: the report is damaged (exit 2), whatever the replay
// did. The replay, which ran anyway, tells which kind of line was edited
// when it can: a replay that reproduces the recorded outcome and trace hash
// but not the checksums says the sum lines were edited; one that matches
// every checksum but not the hash says the hash line was; and so on.
func editedVerdict(w io.Writer, name string, want *report.Header, machine string, got report.Outcome, hash uint64, events int, diff *report.Divergence) int {
	where := "its header"
	switch {
	case want.Seal.HeaderEdited && want.Seal.TrailerEdited:
		where = "its header and its trailer"
	case want.Seal.TrailerEdited:
		where = "its trailer"
	}
	fmt.Fprintf(w, "%s: damaged report: a \"--!\" line of %s was edited (the header-sum does not match)\n", name, where)
	sumsSame, hashSame, outSame := diff == nil, hash == want.Hash, got == want.Outcome
	switch {
	case want.Seal.TrailerEdited && !want.Seal.HeaderEdited && hashSame && outSame && !sumsSame:
		fmt.Fprintf(w, "the report's sum lines were edited: the replay reproduces the recorded outcome %s and trace %016x, not the checksums\n%s\n",
			got.Kind, hash, diff)
	case want.Seal.TrailerEdited && !want.Seal.HeaderEdited && hashSame && outSame:
		fmt.Fprintln(w, "the report's end line was edited: the replay reproduces the recorded outcome, trace and checksums")
	case want.Seal.HeaderEdited && !want.Seal.TrailerEdited && sumsSame && !hashSame && events == want.Sums.Events:
		fmt.Fprintf(w, "the report's hash line was edited: the replay matches every checksum, and ends with trace %016x, not %016x\n", hash, want.Hash)
	case want.Seal.HeaderEdited && !want.Seal.TrailerEdited && sumsSame && hashSame && !outSame:
		fmt.Fprintf(w, "the report's outcome lines were edited: the replay reproduces the trace and checksums, and ends with outcome %s, not %s\n", got, want.Outcome)
	case want.Seal.HeaderEdited && !want.Seal.TrailerEdited && sumsSame && hashSame && want.Machine != machine:
		fmt.Fprintf(w, "the report's machine line was edited: it says %s, the machine in the report is %s\n", want.Machine, machine)
	case want.Seal.HeaderEdited && !want.Seal.TrailerEdited && sumsSame && hashSame:
		fmt.Fprintln(w, "the edited line does not change the run: the seed (for a run that does not depend on it), the detail, made-by or another")
	default:
		fmt.Fprintf(w, "and the replay went another way: the report says outcome %s, trace %016x (%d events);\n", want.Outcome, want.Hash, want.Sums.Events)
		fmt.Fprintf(w, "the replay ended with outcome %s, trace %016x (%d events)\n", got, hash, events)
		if diff != nil {
			fmt.Fprintln(w, diff)
		}
	}
	return exitBadArgs
}

// verdict compares a replay, run with seed, with its report and says so.
// A replay under another seed than the report's is never "reproduced": the
// seed is then the difference it names first.
func verdict(w io.Writer, want *report.Header, seed uint64, got report.Outcome, hash uint64, events int, diff *report.Divergence) int {
	same := got == want.Outcome && hash == want.Hash
	if seed == want.Seed && same {
		fmt.Fprintf(w, "reproduced: outcome %s, trace %016x (%d events)\n", got.Kind, hash, events)
		return exitOK
	}
	if seed != want.Seed {
		fmt.Fprintf(w, "diverged: the report was made with seed %d; this replay used --seed %d\n", want.Seed, seed)
		if same {
			fmt.Fprintf(w, "          the replay still ended with the recorded outcome %s, trace %016x (%d events)\n", got.Kind, hash, events)
			return exitFailed
		}
		fmt.Fprintf(w, "          the report recorded outcome %s, trace %016x (%d events);\n", want.Outcome, want.Hash, want.Sums.Events)
	} else {
		fmt.Fprintf(w, "diverged: the report recorded outcome %s, trace %016x (%d events);\n", want.Outcome, want.Hash, want.Sums.Events)
	}
	fmt.Fprintf(w, "          the replay ended with outcome %s, trace %016x (%d events)\n", got, hash, events)
	if want.Build != "" && want.Build != report.Identity() {
		// A different build is no divergence by itself; when there is
		// one, it may be the reason.
		fmt.Fprintf(w, "the report was made by %s; this replay ran on %s\n", want.Build, report.Identity())
	}
	switch {
	case diff != nil:
		fmt.Fprintln(w, diff)
	case hash == want.Hash:
		fmt.Fprintln(w, "the trace is the same; only the outcome differs")
	default:
		fmt.Fprintln(w, "the checksums do not locate the difference (it lies past the events they cover)")
	}
	return exitFailed
}

func cmdMachines(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "xcallsh machines: no arguments expected\n")
		return exitBadArgs
	}
	shell.ListMachines(stdout)
	return exitOK
}

func cmdScenarios(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "xcallsh scenarios: no arguments expected\n")
		return exitBadArgs
	}
	for _, s := range scripts.All() {
		fmt.Fprintf(stdout, "%-24s %s\n", s.Name, s.Description)
	}
	fmt.Fprintf(stdout, "\nKernel bugs they reproduce (docs/fixes.md):\n")
	bugs := scripts.Bugs()
	switches := make([]string, len(bugs))
	width := len("SWITCH (COMMIT)")
	for i, b := range bugs {
		switches[i] = b.Switch
		if b.Commit != "" {
			switches[i] += " (" + b.Commit + ")"
		}
		width = max(width, len(switches[i]))
	}
	fmt.Fprintf(stdout, "%-24s %-*s %s\n", "SCENARIO", width, "SWITCH (COMMIT)", "BUG")
	for i, b := range bugs {
		fmt.Fprintf(stdout, "%-24s %-*s %s\n", b.Scenario, width, switches[i], b.Bug)
	}
	return exitOK
}

// memModelFlag is --memory sc|native.
type memModelFlag struct{ v *string }

func (f memModelFlag) String() string {
	if f.v == nil {
		return ""
	}
	return *f.v
}

func (f memModelFlag) Set(s string) error {
	if s != machines.MemorySC && s != machines.MemoryNative {
		return fmt.Errorf("unknown memory model %q (want %s or %s)", s, machines.MemorySC, machines.MemoryNative)
	}
	*f.v = s
	return nil
}

// withMemory returns onBoot, first setting the memory model of every
// freshly booted kernel to model ("" leaves the machine's).
func withMemory(model string, onBoot func(*xcall.Kernel)) func(*xcall.Kernel) {
	if model == "" {
		return onBoot
	}
	return func(k *xcall.Kernel) {
		k.SetMemory(model) // checked by the flag
		if onBoot != nil {
			onBoot(k)
		}
	}
}

// reportMachine is the machine a report of a run writes inline, and
// whether its replay ignores the scenario's own machine() calls. When
// --memory (model) changes the machine's memory model, the machine's
// text gains a [memory] table saying so, and the replay is forced onto it
// (a scenario's machine() call would drop the table), so that it runs
// under the model the run had. A machine text that has a [memory] table
// already is kept as it is (docs/memory.md).
func reportMachine(spec *machines.Spec, model string, forced bool) (*machines.Spec, bool) {
	native := spec.Memory == machines.MemoryNative
	if model == "" || (model == machines.MemoryNative) == native || strings.Contains(spec.Source, "[memory]") {
		return spec, forced
	}
	c := *spec
	c.Source = strings.TrimRight(spec.Source, "\n") + "\n\n[memory]\nmodel = \"" + model + "\"\n"
	if model == machines.MemoryNative {
		c.Memory = machines.MemoryNative
	} else {
		c.Memory = ""
	}
	return &c, true
}
