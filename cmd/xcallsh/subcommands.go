package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/report"
	"github.com/xcallsh/xcallsh/scftorture"
)

// subcommand is one of xcallsh's subcommands: the table below dispatches
// them (mainArgs) and writes their help (usage), as the shell's command
// table does for its commands.
type subcommand struct {
	name    string // "" for the shell, which runs when no subcommand is named
	args    string // the positional arguments in the synopsis
	summary string // one line
	// flags builds the command's flags with their defaults, writing into
	// variables of its own; the command builds the same set to parse its
	// arguments. nil: no flags.
	flags func(stderr io.Writer) *flag.FlagSet
	run   func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

var (
	subcommandsOnce sync.Once
	subcommandList  []*subcommand
)

// subcommands is the table, in the order help lists it.
func subcommands() []*subcommand {
	subcommandsOnce.Do(func() { subcommandList = subcommandTable() })
	return subcommandList
}

func subcommandTable() []*subcommand {
	noStdin := func(fn func(args []string, stdout, stderr io.Writer) int) func([]string, io.Reader, io.Writer, io.Writer) int {
		return func(args []string, _ io.Reader, stdout, stderr io.Writer) int { return fn(args, stdout, stderr) }
	}
	noFlags := func(stderr io.Writer) *flag.FlagSet { return newFlagSet("", stderr) }
	return []*subcommand{
		{name: "", summary: "the interactive shell (type help in it; docs/shell.md)",
			flags: func(w io.Writer) *flag.FlagSet { return shellFlagSet(new(shellFlags), w) },
			run:   cmdShell},
		{name: "run", args: "SCRIPT.lua|NAME", summary: "run a scenario (NAME: a built-in one), or replay a report",
			flags: func(w io.Writer) *flag.FlagSet { return runFlagSet(new(runFlags), w) },
			run:   noStdin(cmdRun)},
		{name: "explore", args: "SCRIPT.lua|NAME", summary: "run it under many schedules; shrink and report failures (docs/explore.md)",
			flags: func(w io.Writer) *flag.FlagSet { return exploreFlagSet(new(exploreFlags), w) },
			run:   noStdin(cmdExplore)},
		{name: "torture", summary: "scftorture on the emulated machine; exit 0 on SUCCESS (docs/torture.md)",
			flags: func(w io.Writer) *flag.FlagSet {
				return tortureFlagSet(new(tortureArgs), w)
			},
			run: noStdin(cmdTorture)},
		{name: "bench", summary: "the emulator's own speed on this host (docs/performance.md)",
			flags: func(w io.Writer) *flag.FlagSet { return benchFlagSet(new(time.Duration), new(int), w) },
			run:   noStdin(cmdBench)},
		{name: "litmus", args: "FILE.litmus", summary: "run a C litmus test under the machine's memory model (docs/memory.md)",
			flags: func(w io.Writer) *flag.FlagSet { return litmusFlagSet(new(litmusFlags), w) },
			run:   noStdin(cmdLitmus)},
		{name: "scenarios", summary: "list the built-in scenarios", flags: noFlags, run: noStdin(cmdScenarios)},
		{name: "machines", summary: "list the built-in machines", flags: noFlags, run: noStdin(cmdMachines)},
		{name: "version", summary: "which xcallsh this is: version, revision, Go release (also --version)",
			flags: noFlags, run: noStdin(cmdVersion)},
		{name: "help", args: "[COMMAND]", summary: "this text, or one command's usage with all its flags",
			flags: noFlags, run: noStdin(cmdHelp)},
	}
}

// cmdVersion is `xcallsh version` and `xcallsh --version`: the build's
// identity, the line reports record as made-by.
func cmdVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "xcallsh version: no arguments expected\n")
		return exitBadArgs
	}
	fmt.Fprintln(stdout, report.Identity())
	return exitOK
}

// findSubcommand returns the subcommand called name, or nil.
func findSubcommand(name string) *subcommand {
	for _, c := range subcommands() {
		if c.name == name && name != "" {
			return c
		}
	}
	return nil
}

// shellCommand is the table's row for the shell.
func shellCommand() *subcommand { return subcommands()[0] }

// newFlagSet is a subcommand's flag set: errors go to stderr, followed by
// the command's usage.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		if c := findSubcommand(name); c != nil {
			fmt.Fprint(fs.Output(), "\n"+c.usage())
		} else if name == "xcallsh" {
			fmt.Fprint(fs.Output(), "\n"+shellCommand().usage())
		}
	}
	return fs
}

// cmdHelp is `xcallsh help [COMMAND]`.
func cmdHelp(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		fmt.Fprint(stdout, usage())
		return exitOK
	case len(args) > 1:
		fmt.Fprintf(stderr, "xcallsh help: want at most one command, got %d\n", len(args))
		return exitBadArgs
	}
	c := findSubcommand(args[0])
	if args[0] == "shell" || args[0] == "xcallsh" {
		c = shellCommand()
	}
	if c == nil {
		fmt.Fprintf(stderr, "xcallsh help: unknown command %q\n\n%s", args[0], usage())
		return exitBadArgs
	}
	fmt.Fprint(stdout, c.usage())
	return exitOK
}

// synopsis is how c is invoked: "xcallsh run SCRIPT.lua|NAME [flags]".
func (c *subcommand) synopsis() string {
	s := "xcallsh"
	for _, part := range []string{c.name, c.args} {
		if part != "" {
			s += " " + part
		}
	}
	if c.hasFlags() {
		s += " [flags]"
	}
	return s
}

func (c *subcommand) hasFlags() bool {
	n := 0
	if c.flags != nil {
		c.flags(io.Discard).VisitAll(func(*flag.Flag) { n++ })
	}
	return n > 0
}

// usage is `xcallsh help`: every subcommand with its flags.
func usage() string {
	var b strings.Builder
	b.WriteString("usage:\n")
	for _, c := range subcommands() {
		fmt.Fprintf(&b, "  %-40s %s\n", c.synopsis(), c.summary)
		for _, l := range c.flagLines() {
			b.WriteString("    " + l + "\n")
		}
	}
	b.WriteString("\n`xcallsh help COMMAND` or `xcallsh COMMAND --help` shows one command; -m MACHINE is a\n" +
		"built-in machine name or a TOML file, D a duration (6s, 250ms, 10us), SIZE 512MiB or 2GiB.\n")
	return b.String()
}

// usage is `xcallsh help NAME` and `xcallsh NAME --help`.
func (c *subcommand) usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s\n\n%s\n", c.synopsis(), c.summary)
	if lines := c.flagLines(); len(lines) > 0 {
		b.WriteString("\nflags:\n")
		for _, l := range lines {
			b.WriteString("  " + l + "\n")
		}
	}
	return b.String()
}

// flagLines are c's flags, one a line, in the order of their names: "-m,
// --machine MACHINE   ...". Two names of one flag (the same description)
// share a line.
func (c *subcommand) flagLines() []string {
	if c.flags == nil {
		return nil
	}
	type entry struct{ names, arg, text string }
	var entries []*entry
	byText := map[string]*entry{}
	c.flags(io.Discard).VisitAll(func(f *flag.Flag) {
		arg, text := flagArg(f)
		if def := f.DefValue; def != "" && def != "0" && def != "0s" && def != "false" && !strings.Contains(text, "(default") {
			text += " (default " + def + ")"
		}
		name := "--" + f.Name
		if len(f.Name) == 1 {
			name = "-" + f.Name
		}
		if e := byText[text]; e != nil && e.arg == arg {
			e.names += ", " + name
			return
		}
		e := &entry{name, arg, text}
		byText[text] = e
		entries = append(entries, e)
	})
	var lines []string
	for _, e := range entries {
		head := e.names
		if e.arg != "" {
			head += " " + e.arg
		}
		lines = append(lines, fmt.Sprintf("%-30s %s", head, e.text))
	}
	return lines
}

// flagArg is the placeholder of f's value and its description: a word in
// back quotes in the usage (Go's convention), a leading "NAME: ", or one
// by the value's type.
func flagArg(f *flag.Flag) (arg, text string) {
	if name, text := flag.UnquoteUsage(f); strings.Contains(f.Usage, "`") {
		return name, text
	}
	if head, rest, ok := strings.Cut(f.Usage, ": "); ok && head != "" && !strings.Contains(head, " ") && head[0] >= 'A' && head[0] <= 'Z' {
		return head, rest
	}
	switch v := f.Value.(type) {
	case unitFlag:
		if v.unit == scftorture.Jiffy {
			return "JIFFIES|D", f.Usage
		}
		return "SECS|D", f.Usage
	case durationFlag, timeoutFlag:
		return "D", f.Usage
	case memoryFlag:
		return "SIZE", f.Usage
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return "", f.Usage
	}
	name, text := flag.UnquoteUsage(f)
	switch name {
	case "int", "uint", "int64", "uint64", "value":
		name = "N"
	case "string":
		name = "S"
	}
	return name, text
}
