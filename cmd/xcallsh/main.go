// Command xcallsh is a deterministic, scriptable emulator of the Linux
// kernel's cross-CPU function calls. See README.md.
//
//	xcallsh [-m MACHINE] [--seed N]   the interactive shell
//	xcallsh run SCRIPT.lua|NAME       run a scenario, or replay a report
//	xcallsh scenarios                 list the built-in scenarios
//	xcallsh machines                  list the built-in machines
//
// Package main keeps the subcommands: run.go runs a script or replays a
// report (runchild.go is its side of the child-process backstop),
// explore.go, torture.go and bench.go are the others; the shell is
// internal/shell, the traces (ftrace text, Perfetto JSON, the timeline)
// internal/traces, a watched luabind session internal/session; the report
// format and the event log whose hash and checksums reports carry are in
// internal/report (shared with explore).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/peterh/liner"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/child"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/explore"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/report"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/shell"
	"github.com/xcallsh/xcallsh/machines"
)

// Exit statuses (README.md, "Running scenarios").
const (
	exitOK      = 0
	exitFailed  = 1
	exitBadArgs = 2
)

func main() {
	if os.Getenv("GOGC") == "" {
		// A run allocates fast (Lua tables, one Lua thread per task) and
		// keeps little, so at Go's default of 100 a few MB of live heap
		// means a collection every few MB allocated: explore spent a fifth
		// of its CPU collecting. 200 trades some tens of MB for most of it
		// (300 gained a little more time for half as much memory again).
		debug.SetGCPercent(200)
	}
	os.Exit(mainArgs(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// mainArgs runs xcallsh with args and returns the exit status.
func mainArgs(args []string, stdin io.Reader, stdout, stderr io.Writer) (status int) {
	defer func() {
		if r := recover(); r != nil {
			status = internalError(stderr, r, args)
		}
	}()
	if child.Mode() == "worker" {
		// An explore worker (explore.Serve), started by explore.Search.
		child.Setup()
		if err := explore.Serve(stdin, stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return exitFailed
		}
		return exitOK
	}
	if len(args) == 0 {
		return cmdShell(nil, stdin, stdout, stderr)
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "machines":
		return cmdMachines(args[1:], stdout, stderr)
	case "scenarios":
		return cmdScenarios(args[1:], stdout, stderr)
	case "explore":
		return cmdExplore(args[1:], stdout, stderr)
	case "bench":
		return cmdBench(args[1:], stdout, stderr)
	case "torture":
		return cmdTorture(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	if len(args[0]) > 0 && args[0][0] == '-' {
		return cmdShell(args, stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "xcallsh: unknown command %q\n\n%s", args[0], usage)
	return exitBadArgs
}

const usage = `usage:
  xcallsh [-m MACHINE] [--seed N]         interactive shell (type help in it)
  xcallsh run SCRIPT.lua|NAME [flags]     run a scenario (NAME: a built-in one), or replay a report
      -m, --machine MACHINE   built-in machine name or TOML file (default x86-4)
      --seed N                schedule seed (0 = the canonical schedule; a report's own by default)
      --trace FILE            write the trace: FILE.json Perfetto JSON, else ftrace text
      --report FILE           write a self-verifying bug report of the run (a Lua file)
      --timeline              print an ASCII timeline of the run
      --quiet                 no summary line
      --timeout D             host-time limit for the whole run (default 5m; 0: none)
      --memory-limit SIZE     memory limit of the run (default 2GiB; 0: none)
  xcallsh explore SCRIPT.lua|NAME [flags] run it under many schedules; shrink and report failures
      -m MACHINE, --runs N (1000), -j N (cores), --strategy random|pct, --depth D (3),
      --out DIR (one report per distinct failure), --shard I/N, --json, --first-seed N,
      --shrink N (runs per shrink, 500), --timeout D (per run, 1m), --memory-limit SIZE (2GiB)
  xcallsh torture [-m M] [--seed N] [--duration D] [scftorture parameters, dashed]
      --nthreads N, --onoff-interval D|jiffies, --stat-interval D|s, --weight-single N, ...
      --fix NAME=off, --ipi-drop CPU:N (see docs/torture.md); exit 0 on SUCCESS
  xcallsh bench [flags]                   the emulator's own speed on this host (docs/performance.md)
      --count N (3 runs of each benchmark, the fastest shown), --benchtime D (each run, 100ms)
  xcallsh scenarios                       list the built-in scenarios
  xcallsh machines                        list the built-in machines
`

// internalError reports a Go panic as what it is: a bug in xcallsh, in one
// paragraph, and writes a file that reproduces it: for `run`, the machine
// and the script as a report; otherwise the command line.
func internalError(stderr io.Writer, r any, args []string) int {
	path := writeCrashReport(r, args)
	fmt.Fprintf(stderr, "xcallsh: internal error: %v\n"+
		"This is a bug in xcallsh, not in your script or machine: xcallsh failed where it must\n"+
		"not. %s Please send it with the command line to the xcallsh developers.\n", r, path)
	return exitFailed
}

// writeCrashReport writes what reproduces a crash into the temporary
// directory and says where (or why it could not).
func writeCrashReport(r any, args []string) string {
	return writeCrash(fmt.Sprint(r), args, string(debug.Stack()))
}

// writeCrash writes the crash file: what happened, the command line, the
// stack (or a child's whole output) and, for `run`, the script.
func writeCrash(what string, args []string, stack string) string {
	f, err := os.CreateTemp("", "xcallsh-crash-*.lua")
	if err != nil {
		return "No crash file could be written (" + err.Error() + ")."
	}
	defer f.Close()
	fmt.Fprintf(f, "-- xcallsh crashed (a bug in xcallsh): %v\n-- command line: xcallsh %s\n-- stack:\n", what, strings.Join(args, " "))
	for _, line := range strings.Split(stack, "\n") {
		fmt.Fprintf(f, "--   %s\n", line)
	}
	if len(args) >= 2 && args[0] == "run" {
		if name, src, err := loadScript(args[1]); err == nil && !report.IsReport(src) {
			fmt.Fprintf(f, "-- Replay with the same flags: xcallsh %s (with this file as the script)\n\n", strings.Join(args, " "))
			io.WriteString(f, report.ScriptScenario(name, src))
		} else if err == nil {
			io.WriteString(f, "\n"+src)
		}
	}
	return "What reproduces it is in " + f.Name() + "."
}

// cmdShell is `xcallsh [-m MACHINE] [--seed N]`: the interactive shell
// (internal/shell).
func cmdShell(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("xcallsh", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var machine string
	var seed uint64
	var seedSet bool
	machineFlags(fs, &machine)
	fs.Var(seedFlag{&seed, &seedSet}, "seed", "schedule seed (0 = the canonical schedule)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return exitBadArgs
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "xcallsh: unexpected argument %q\n\n%s", pos[0], usage)
		return exitBadArgs
	}
	forced := machine != ""
	if machine == "" {
		machine = machines.Default
	}
	f, ok := stdin.(*os.File)
	return shell.Main(shell.Options{Machine: machine, Forced: forced, Seed: seed, Terminal: ok && f == os.Stdin && isTerminal(stdout)},
		stdin, stdout, stderr)
}

// isTerminal reports whether stdin and w are a terminal.
func isTerminal(w io.Writer) bool {
	if _, err := liner.TerminalMode(); err != nil {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
