package main

import (
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/luabind"
	"github.com/xcallsh/xcallsh/machines"
	"github.com/xcallsh/xcallsh/scripts"
	"github.com/xcallsh/xcallsh/xcall"
)

// runFlags are the flags of `xcallsh run`.
type runFlags struct {
	machine string
	seed    uint64
	trace   string
	quiet   bool
	timeout time.Duration
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

// durationFlag accepts 6s, 250ms, 10us, 100ns.
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return 0, fmt.Errorf("duration %q needs a unit (ns, us, ms, s, m, h)", s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q (use e.g. 6s, 250ms, 10us, 100ns)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return d, nil
}

func machineFlags(fs *flag.FlagSet, machine *string) {
	fs.StringVar(machine, "m", "", "machine: a built-in name or a TOML file")
	fs.StringVar(machine, "machine", "", "machine: a built-in name or a TOML file")
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	var f runFlags
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	machineFlags(fs, &f.machine)
	fs.Uint64Var(&f.seed, "seed", 0, "schedule seed")
	fs.StringVar(&f.trace, "trace", "", "write the trace to FILE")
	fs.BoolVar(&f.quiet, "quiet", false, "no summary line")
	f.timeout = 5 * time.Minute
	fs.Var(durationFlag{&f.timeout}, "timeout", "host-time limit")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return exitBadArgs
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "xcallsh run: want one script or scenario name, got %d\n\n%s", len(pos), usage)
		return exitBadArgs
	}
	name, src, err := loadScript(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "xcallsh: %v\n", err)
		return exitBadArgs
	}
	return runScript(name, src, f, stdout, stderr)
}

// loadScript reads a script file, or a built-in scenario by name.
func loadScript(arg string) (name, src string, err error) {
	if b, ferr := os.ReadFile(arg); ferr == nil {
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

// hashSink hashes every trace line and log line of a run.
type hashSink struct{ h uint64 }

func newHashSink() *hashSink { return &hashSink{h: 14695981039346656037} }

func (s *hashSink) add(line string) {
	h := fnv.New64a()
	fmt.Fprintf(h, "%016x%s\n", s.h, line)
	s.h = h.Sum64()
}
func (s *hashSink) Trace(e *emu.TraceEvent) { s.add(e.String()) }
func (s *hashSink) Log(l *emu.LogLine)      { s.add(l.String()) }

// ftraceSink writes the trace as ftrace text.
type ftraceSink struct{ w io.Writer }

func (s *ftraceSink) Trace(e *emu.TraceEvent) { fmt.Fprintln(s.w, e.String()) }
func (s *ftraceSink) Log(*emu.LogLine)        {}

const ftraceHeader = `# tracer: nop
#
#                                _-----=> irqs-off/BH-disabled
#                               / _----=> need-resched
#                              | / _---=> hardirq/softirq
#                              || / _--=> preempt-depth
#                              ||| /
#           TASK-PID     CPU#  ||||   TIMESTAMP  FUNCTION
#              | |         |   ||||      |         |
`

func runScript(name, src string, f runFlags, stdout, stderr io.Writer) int {
	hs := newHashSink()
	var traceOut *os.File
	if f.trace != "" {
		var err error
		traceOut, err = os.Create(f.trace)
		if err != nil {
			fmt.Fprintf(stderr, "xcallsh: %v\n", err)
			return exitBadArgs
		}
		defer traceOut.Close()
	}
	opts := luabind.Options{
		Machine:       f.machine,
		MachineForced: f.machine != "",
		Seed:          f.seed,
		Timeout:       f.timeout,
		Stdout:        stdout,
		Setup: func(k *xcall.Kernel) {
			hs.h = 14695981039346656037
			k.M.AddSink(hs)
			if traceOut != nil {
				traceOut.Truncate(0)
				traceOut.Seek(0, 0)
				io.WriteString(traceOut, ftraceHeader)
				k.M.AddSink(&ftraceSink{traceOut})
			}
		},
	}
	sess, err := luabind.New(opts)
	if err != nil {
		fmt.Fprintf(stderr, "xcallsh: %v\n", err)
		return exitBadArgs
	}
	defer sess.Close()
	_, err = sess.Exec(name, src)
	outcome := "ok"
	status := exitOK
	if err != nil {
		outcome = "failed"
		status = exitFailed
		fmt.Fprintln(stderr, err.Error())
	} else if p := sess.K.Panicked(); p != "" {
		outcome = "panic"
	} else if st := sess.K.M.Stuck(); st != "" {
		outcome = "stuck"
	}
	if !f.quiet {
		fmt.Fprintln(stderr, summary(sess, outcome, hs.h))
	}
	return status
}

// summary is the one-line account of a run.
func summary(s *luabind.Session, outcome string, hash uint64) string {
	k := s.K
	st := k.Stats
	return fmt.Sprintf("xcallsh: %s seed %d: %s virtual, %d calls, %d IPIs, %d reports, %d warnings, outcome %s, trace %016x",
		s.Spec().Name, k.M.Seed(), fmtVirtual(k.M.Now()), st.Calls, st.IPIs, st.Reports, st.Warnings, outcome, hash)
}

func fmtVirtual(ns int64) string { return fmt.Sprintf("%d.%09ds", ns/1e9, ns%1e9) }

func cmdMachines(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "xcallsh machines: no arguments expected\n")
		return exitBadArgs
	}
	for _, m := range machines.Builtins() {
		def := ""
		if m.Name == machines.Default {
			def = " (default)"
		}
		fmt.Fprintf(stdout, "%-12s %s%s\n", m.Name, m.Description, def)
	}
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
	return exitOK
}

// cmdShell is the interactive shell.
func cmdShell(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "xcallsh: the interactive shell is not built yet; use `xcallsh run`")
	return exitBadArgs
}
