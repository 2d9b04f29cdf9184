// Command xcallsh is a deterministic, scriptable emulator of the Linux
// kernel's cross-CPU function calls. See README.md.
//
//	xcallsh [-m MACHINE] [--seed N]   the interactive shell
//	xcallsh run SCRIPT.lua|NAME       run a scenario, or replay a report
//	xcallsh help [COMMAND]            every command, or one, with all its flags
//
// Package main keeps the subcommands, one table (subcommands.go) that
// dispatches them and writes their help: run.go runs a script or replays a
// report (runchild.go is its side of the child-process backstop,
// progress.go its progress line on a terminal and its Ctrl-C), explore.go,
// torture.go (torturescript.go: its traced and reported runs, as scripts
// calling torture(...)) and bench.go are the others; the shell is
// internal/shell, the traces (ftrace text, Perfetto JSON, the timeline)
// internal/traces, a watched luabind session internal/session; the report
// format and the event log whose hash and checksums reports carry are in
// internal/report (shared with explore).
package main

import (
	"errors"
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
	if len(args) > 0 && args[0] == "--version" {
		return runSubcommand(findSubcommand("version"), args[1:], stdin, stdout, stderr)
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && !isHelp(args[0]) {
		return runSubcommand(shellCommand(), args, stdin, stdout, stderr)
	}
	if isHelp(args[0]) {
		return runSubcommand(findSubcommand("help"), args[1:], stdin, stdout, stderr)
	}
	c := findSubcommand(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "xcallsh: unknown command %q\n\n%s", args[0], usage())
		return exitBadArgs
	}
	return runSubcommand(c, args[1:], stdin, stdout, stderr)
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}

// runSubcommand runs c with its arguments; a -h or --help among its flags
// prints c's usage instead, and exits 0.
func runSubcommand(c *subcommand, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if c.flags != nil {
		if _, err := parseArgs(c.flags(io.Discard), args); errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, c.usage())
			return exitOK
		}
	}
	return c.run(args, stdin, stdout, stderr)
}

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

// shellFlags are the flags of the shell, `xcallsh [-m MACHINE] [--seed N]`.
type shellFlags struct {
	machine string
	seed    uint64
	seedSet bool
}

// shellFlagSet is the shell's flags, writing into f.
func shellFlagSet(f *shellFlags, stderr io.Writer) *flag.FlagSet {
	fs := newFlagSet("xcallsh", stderr)
	machineFlags(fs, &f.machine)
	fs.Var(seedFlag{&f.seed, &f.seedSet}, "seed", "schedule seed `N` (0 = the canonical schedule)")
	return fs
}

// cmdShell is `xcallsh [-m MACHINE] [--seed N]`: the interactive shell
// (internal/shell).
func cmdShell(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f shellFlags
	pos, err := parseArgs(shellFlagSet(&f, stderr), args)
	if err != nil {
		return exitBadArgs
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "xcallsh: unexpected argument %q\n\n%s", pos[0], usage())
		return exitBadArgs
	}
	machine, forced := f.machine, f.machine != ""
	if machine == "" {
		machine = machines.Default
	}
	file, ok := stdin.(*os.File)
	return shell.Main(shell.Options{Machine: machine, Forced: forced, Seed: f.seed, Terminal: ok && file == os.Stdin && isTerminal(stdout)},
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
