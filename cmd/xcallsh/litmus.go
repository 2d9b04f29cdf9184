package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/files"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/litmus"
	"github.com/xcallsh/xcallsh/emu/memory"
	"github.com/xcallsh/xcallsh/machines"
)

// litmusFlags are litmus's flags.
type litmusFlags struct {
	machine, memory string
	runs            int
	all             bool
	seed            uint64
	seedSet         bool
}

// maxLitmusRuns bounds --runs: a million runs of a small test take
// seconds; more would only wait longer for the same verdict.
const maxLitmusRuns = 10_000_000

func litmusFlagSet(f *litmusFlags, stderr io.Writer) *flag.FlagSet {
	fs := newFlagSet("litmus", stderr)
	machineFlags(fs, &f.machine)
	fs.StringVar(&f.memory, "memory", "", "MODEL: sc, tso or armv8 instead of the machine's architecture's model")
	fs.IntVar(&f.runs, "runs", 10000, "random runs `N`")
	fs.BoolVar(&f.all, "all", false, "enumerate every execution instead of random runs")
	fs.Var(seedFlag{&f.seed, &f.seedSet}, "seed", "seed `N` of the random runs")
	return fs
}

// cmdLitmus is `xcallsh litmus FILE.litmus`: a test of the Linux-kernel
// memory model's C litmus format, run under the machine's memory model
// (docs/memory.md).
func cmdLitmus(args []string, stdout, stderr io.Writer) int {
	var f litmusFlags
	pos, err := parseArgs(litmusFlagSet(&f, stderr), args)
	if err != nil {
		return exitBadArgs
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "xcallsh litmus: want one FILE.litmus, got %d arguments\n", len(pos))
		return exitBadArgs
	}
	if f.runs < 1 || f.runs > maxLitmusRuns {
		fmt.Fprintf(stderr, "xcallsh litmus: --runs %d is out of range 1-%d\n", f.runs, maxLitmusRuns)
		return exitBadArgs
	}
	name := f.machine
	if name == "" {
		name = machines.Default
	}
	spec, err := machines.Load(name)
	if err != nil {
		fmt.Fprintf(stderr, "xcallsh litmus: %v\n", err)
		return exitBadArgs
	}
	model := memory.ARMv8
	if spec.IsX86() {
		model = memory.TSO
	}
	switch f.memory {
	case "":
	case "sc":
		model = memory.SC
	case "tso":
		model = memory.TSO
	case "armv8":
		model = memory.ARMv8
	default:
		fmt.Fprintf(stderr, "xcallsh litmus: --memory %q: want sc, tso or armv8\n", f.memory)
		return exitBadArgs
	}
	src, err := files.Read(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "xcallsh litmus: %v\n", err)
		return exitBadArgs
	}
	test, err := litmus.Parse(pos[0], src)
	if err != nil {
		fmt.Fprintf(stderr, "xcallsh litmus: %v\n", err)
		return exitBadArgs
	}
	compiled, err := litmus.Compile(test, spec.IsX86())
	if err != nil {
		fmt.Fprintf(stderr, "xcallsh litmus: %v\n", err)
		return exitBadArgs
	}
	opts := litmus.Options{Model: model, Runs: f.runs, Seed: f.seed, Machine: spec.Name}
	if f.all {
		opts.Runs = 0
	}
	res, err := litmus.Run(test, compiled, opts)
	if err != nil {
		fmt.Fprintf(stderr, "xcallsh litmus: %v\n", err)
		return exitBadArgs
	}
	if err := res.Write(stdout); err != nil && !errors.Is(err, io.ErrClosedPipe) {
		fmt.Fprintf(stderr, "xcallsh litmus: %v\n", err)
		return exitFailed
	}
	return exitOK
}
