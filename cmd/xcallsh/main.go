// Command xcallsh is a deterministic, scriptable emulator of the Linux
// kernel's cross-CPU function calls. See README.md.
//
//	xcallsh                         interactive shell on the default machine
//	xcallsh run SCRIPT.lua|NAME     run a scenario
//	xcallsh scenarios               list the built-in scenarios
//	xcallsh machines                list the built-in machines
package main

import (
	"fmt"
	"io"
	"os"
)

// Exit statuses (API.md).
const (
	exitOK      = 0
	exitFailed  = 1
	exitBadArgs = 2
)

func main() {
	os.Exit(mainArgs(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// mainArgs runs xcallsh with args and returns the exit status.
func mainArgs(args []string, stdin io.Reader, stdout, stderr io.Writer) (status int) {
	defer func() {
		if r := recover(); r != nil {
			status = internalError(stderr, r)
		}
	}()
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
  xcallsh [-m MACHINE] [--seed N]         interactive shell (Lua at operator level)
  xcallsh run SCRIPT.lua|NAME [flags]     run a scenario (NAME: a built-in one)
      -m, --machine MACHINE   built-in machine name or TOML file (default x86-4)
      --seed N                schedule seed (0 = the canonical schedule)
      --trace FILE            write the trace: ftrace text
      --quiet                 no summary line
      --timeout D             host-time limit for the whole run (default 5m)
  xcallsh scenarios                       list the built-in scenarios
  xcallsh machines                        list the built-in machines
`

// internalError reports a Go panic as what it is: a bug in xcallsh.
func internalError(stderr io.Writer, r any) int {
	fmt.Fprintf(stderr, "xcallsh: internal error: %v\n"+
		"This is a bug in xcallsh, not in your script or machine. Please report it with the\n"+
		"command line and the script that triggered it.\n", r)
	return exitFailed
}
