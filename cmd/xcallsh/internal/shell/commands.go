package shell

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/files"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/report"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/traces"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/units"
	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/luabind"
	"github.com/xcallsh/xcallsh/machines"
	"github.com/xcallsh/xcallsh/xcall"
)

// The shell's one command table (after Delve's pkg/terminal): it drives
// parsing (lookupCommand), Tab completion (complete.go), help, and the
// generated reference docs/commands.md.

// command is one shell command.
type command struct {
	name    string
	aliases []string
	group   string
	usage   string // the synopsis: "on CPU LUA"
	summary string // one line
	help    string // the rest of the documentation (may be empty)
	args    []argKind
	fn      func(sh *Shell, args, line string) error
	runs    bool // it runs the machine or Lua: refused once the session is over
	repeat  bool // Enter on an empty line repeats it (step, next, continue)
	debug   bool // it may leave the machine paused between two events of an instant
}

// takesPath reports whether the command's first argument is a file.
func (c *command) takesPath() bool {
	return len(c.args) > 0 && (c.args[0] == argFile || c.args[0] == argMachine)
}

// argKind says how Tab completes an argument.
type argKind uint8

const (
	argNone     argKind = iota
	argCPU              // a CPU number
	argMachine          // a built-in machine name, or a file
	argParam            // a kernel parameter name
	argFix              // a historical fix name
	argOnOff            // on or off
	argFile             // a file name
	argCommand          // a command name
	argLua              // Lua: globals (the rest of the line)
	argTimeline         // all, or a CPU
	argInfo             // what info shows
	argBreak            // an event kind
)

// groups, in the order help lists them.
var groups = []string{"Machine", "Running", "Breakpoints and stepping", "Faults and parameters", "Looking", "Session"}

var (
	tableOnce sync.Once
	table     []*command
)

// commands returns the command table.
func commands() []*command {
	tableOnce.Do(func() { table = commandTable() })
	return table
}

// findCommand returns the command called name (or an alias), or nil.
func findCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
		for _, a := range c.aliases {
			if a == name {
				return c
			}
		}
	}
	return nil
}

func commandTable() []*command {
	return []*command{
		{name: "machines", group: "Machine", usage: "machines",
			summary: "List the built-in machines.",
			help:    "Any of them, or a TOML file, can be booted with boot or chosen with -m.",
			fn:      cmdMachinesShell},
		{name: "boot", group: "Machine", usage: "boot MACHINE [SEED]", args: []argKind{argMachine},
			summary: "Boot a machine afresh: a new session.",
			help: "MACHINE is a built-in name (see machines) or a TOML file. The new session starts at virtual\n" +
				"time 0 with a fresh Lua state and no recorded steps, on the shell's seed unless SEED is given.\n" +
				"Like -m, it makes the scenario's own machine() calls do nothing.",
			fn: cmdBoot},
		{name: "cpus", group: "Machine", usage: "cpus [CPULIST]", args: []argKind{argCPU},
			summary: "Show the CPUs: state, interrupts, what runs, queue depth, pending IPIs.",
			help: "One line per CPU (the first 64, or those of CPULIST, e.g. 0-3,8):\n" +
				"  STATE    online, offline, or the hotplug step it is in\n" +
				"  IRQS     whether local interrupts are on or off\n" +
				"  RUNNING  idle, or what runs, innermost first (\"irq over caller-101\"), with what it waits for\n" +
				"  QUEUE    csds waiting in the CPU's call_single_queue\n" +
				"  PENDING  interrupt vectors (x86) or IPI numbers (arm64) raised but not yet taken",
			fn: cmdCpus},
		{name: "info", group: "Looking", usage: "info cpus [CPULIST]", args: []argKind{argInfo, argCPU},
			summary: "Show every CPU in the kernel's terms: cpuhp state, current task, context, depths, pending vectors.",
			help: "One line per CPU:\n" +
				"  CPUHP    the cpuhp state (online, offline, or the state a CPU going up or down is in)\n" +
				"  CURRENT  the task the CPU runs (swapper/N: the idle task)\n" +
				"  CONTEXT  task, hardirq VECTOR (the handler of that vector) or nmi: the innermost context\n" +
				"  IRQS     irqs_disabled(): off or on\n" +
				"  PREEMPT  preempt_count() at task level;  HARDIRQ: hard-irq nesting depth\n" +
				"  IDLE     idle, polling (idle=poll: wakes without an IPI), dead (parked), or - (busy)\n" +
				"  QUEUE    csds on the CPU's call_single_queue (queue CPU lists them)\n" +
				"  PENDING  vectors raised and not yet taken, named as irq_vectors.h or ipi_types[] do",
			fn: cmdInfo},
		{name: "cpu", group: "Looking", usage: "cpu CPU", args: []argKind{argCPU},
			summary: "Show one CPU in detail: what it runs, its depths, pending vectors, queue, what it waits for.",
			fn:      cmdCPU},
		{name: "queue", group: "Looking", usage: "queue CPU", args: []argKind{argCPU},
			summary: "List CPU's call_single_queue: each csd's id, address, flags, type, function and info.",
			help: "Head first, as the llist links them (the newest csd first); the flush reverses the list and\n" +
				"runs the oldest first. SRC and DST are the csd's node.src and node.dst.",
			fn: cmdQueue},
		{name: "csd", group: "Looking", usage: "csd ID",
			summary: "Show csd ID: its flags, who locked it and when, where it is queued, who waits on it since when.",
			fn:      cmdCSD},
		{name: "ipis", group: "Looking", usage: "ipis",
			summary: "List the IPIs in flight (sent, not yet taken by a handler), by id.",
			help:    "An IPI keeps its id from the send to the handler that takes it; STATE is on its way or pending.",
			fn:      cmdIPIs},
		{name: "where", aliases: []string{"bt"}, group: "Looking", usage: "where [CPU]", args: []argKind{argCPU},
			summary: "Show the kernel stack CPU is in, as the kernel's Call Trace prints it.",
			help: "Innermost context first (<NMI>, <IRQ>, <TASK>), each with its frames innermost first and what\n" +
				"it waits for. Without CPU: the CPU of the event the machine stopped at, else every busy CPU.",
			fn: cmdWhere},

		{name: "on", group: "Running", usage: "on CPU LUA", args: []argKind{argCPU, argLua},
			summary: "Run a Lua chunk as a task on CPU, and advance time until it finishes.",
			help: "The chunk runs as kernel code on CPU (it may call smp_call_function_single, mdelay, ...),\n" +
				"as spawn(CPU, \"on\", function() LUA end) would run it. Virtual time advances until the task\n" +
				"returns, the machine panics, stops or is stuck, or 10s of virtual time have passed (the cap:\n" +
				"run DURATION goes on from there); Ctrl-C stops the wait and leaves the task as it is.\n" +
				"The values the chunk returns are printed.",
			fn: cmdOn, runs: true},
		{name: "run", group: "Running", usage: "run DURATION",
			summary: "Advance virtual time by DURATION (6s, 250ms, 10us, 100ns).",
			help:    "The same as run(DURATION) in Lua. New kernel log lines are printed as they appear.",
			fn:      cmdRunShell, runs: true},
		{name: "stall", group: "Running", usage: "stall CPU DURATION", args: []argKind{argCPU},
			summary: "Turn interrupts off on CPU for DURATION (it returns at once).",
			help: "Schedules a task on CPU that disables interrupts and busy-waits for DURATION: IPIs sent to\n" +
				"CPU stay pending meanwhile. The task starts when CPU is free of other tasks; use run to let\n" +
				"time pass.",
			fn: cmdStall, runs: true},
		{name: "offline", group: "Running", usage: "offline CPU", args: []argKind{argCPU},
			summary: "Take CPU offline: cpu_down(CPU) from a task, until it returns.",
			help:    "The task runs on the lowest other online CPU; time advances as for on.",
			fn:      cmdHotplug("offline", "cpu_down"), runs: true},
		{name: "online", group: "Running", usage: "online CPU", args: []argKind{argCPU},
			summary: "Bring CPU online: cpu_up(CPU) from a task, until it returns.",
			help:    "The task runs on the lowest online CPU; time advances as for on.",
			fn:      cmdHotplug("online", "cpu_up"), runs: true},

		{name: "break", aliases: []string{"b"}, group: "Breakpoints and stepping",
			usage:   "break KIND [KEY=VALUE...] [if COND]",
			summary: "Stop continue, step and next at an event of the record that matches.",
			help: "KIND is an event kind of the record: ipi_send, ipi_deliver, irq_entry, csd_queue,\n" +
				"csd_function_entry, csd_wait_begin, sched_switch, cpuhp_enter, printk, ... Keys narrow it:\n" +
				"  cpu=N        the event happened on CPU N\n" +
				"  vector=V     the vector, by name (CALL_FUNCTION_SINGLE_VECTOR, IPI_CALL_FUNC) or number\n" +
				"  csd=ID       the csd's id (queue and csd show them)\n" +
				"  func=NAME    the csd's function (or a cpuhp callback)\n" +
				"  task=NAME    the task the CPU ran, or the one woken or migrated (comm, or comm-pid)\n" +
				"if COND is a Lua expression over info, the event as a table (info.cpu, info.func, info.t, ...).\n" +
				"break cpuhp:STATE stops when a CPU enters that cpuhp state (cpuhp:smpcfd:dying);\n" +
				"break @TIME stops continue when virtual time reaches TIME. The machine stops inside the event\n" +
				"that matched, before anything that follows it (at csd_function_entry the function has not run\n" +
				"yet); where, cpu, queue, csd and ipis look at it there.",
			args: []argKind{argBreak},
			fn:   cmdBreak},
		{name: "breakpoints", group: "Breakpoints and stepping", usage: "breakpoints",
			summary: "List the breakpoints: number, on or off, hits, what.", fn: cmdBreakpoints},
		{name: "clear", group: "Breakpoints and stepping", usage: "clear N|all",
			summary: "Delete breakpoint N (or all of them).", fn: cmdClear},
		{name: "toggle", group: "Breakpoints and stepping", usage: "toggle N",
			summary: "Turn breakpoint N off, or on again.", fn: cmdToggle},
		{name: "continue", aliases: []string{"c"}, group: "Breakpoints and stepping", usage: "continue [DURATION]",
			summary: "Run until a breakpoint hits, nothing is left to run, or DURATION (default 10s) passes.",
			help: "When a script stopped in breakpoint() (a Lua line, source FILE.lua), continue, without DURATION,\n" +
				"goes on with the script instead: to its end or its next breakpoint().",
			fn: cmdContinue, runs: true, repeat: true, debug: true},
		{name: "step", aliases: []string{"s"}, group: "Breakpoints and stepping", usage: "step [N]",
			summary: "Run N (default 1) events of the record, and show them.",
			help:    "The machine stops right after the Nth event, even between two events of one instant, or at a\nbreakpoint.",
			fn:      cmdStep, runs: true, repeat: true, debug: true},
		{name: "next", aliases: []string{"n"}, group: "Breakpoints and stepping", usage: "next [N]",
			summary: "Like step, counting and showing only the events on the CPU the machine stopped on.",
			fn:      cmdNext, runs: true, repeat: true, debug: true},
		{name: "back", group: "Breakpoints and stepping", usage: "back [N]",
			summary: "Go back N (default 1) events: re-execute the session to there.",
			help: "The run is deterministic: the shell boots the same machine on the same seed, runs the session's\n" +
				"steps again and stops at the first event boundary at or after the target event. It starts from\n" +
				"the last checkpoint before the target (a re-execution parked there) when it has one.\n" +
				"What was typed after that point is discarded.",
			fn: cmdBack, runs: true, debug: true},
		{name: "reverse-continue", aliases: []string{"rc"}, group: "Breakpoints and stepping", usage: "reverse-continue",
			summary: "Go back to the previous breakpoint hit (by re-execution, as back does).",
			fn:      cmdReverseContinue, runs: true, debug: true},
		{name: "goto", group: "Breakpoints and stepping", usage: "goto #EVENT|TIME",
			summary: "Go to event number EVENT, or to virtual time TIME, forward or back (as back does).",
			fn:      cmdGoto, runs: true, debug: true},

		{name: "param", group: "Faults and parameters", usage: "param [NAME [VALUE]]", args: []argKind{argParam},
			summary: "Show or set a kernel parameter.",
			help: "Without arguments, all of them: csdlock_debug (0/1, or on/off), csd_lock_timeout and\n" +
				"panic_on_ipistall (ms, 0 = off; a duration such as 5s is converted to ms).",
			fn: cmdParam, runs: true},
		{name: "drop", group: "Faults and parameters", usage: "drop CPU [N]", args: []argKind{argCPU},
			summary: "Lose the next N (default 1) IPIs sent to CPU in the interrupt controller.",
			help:    "The same as ipi_drop(CPU, N).",
			fn:      cmdDrop, runs: true},
		{name: "fix", group: "Faults and parameters", usage: "fix [NAME [on|off]]", args: []argKind{argFix, argOnOff},
			summary: "Show the historical fixes, or turn one on or off.",
			help:    "With a fix off, the kernel behaves as it did before that commit.",
			fn:      cmdFix, runs: true},

		{name: "print", aliases: []string{"p"}, group: "Looking", usage: "print EXPR", args: []argKind{argLua},
			summary: "Print the value of a Lua expression (p now()).",
			help:    "EXPR is evaluated at operator level as a Lua line is; a bare Lua global prints its value too.",
			fn:      cmdPrint, runs: true},
		{name: "dmesg", aliases: []string{"log"}, group: "Looking", usage: "dmesg [N]",
			summary: "Print the kernel log (the last N lines).",
			fn:      cmdDmesg},
		{name: "trace", aliases: []string{"t"}, group: "Looking", usage: "trace [FILE]", args: []argKind{argFile},
			summary: "Print the last interval's tracepoints, or write the whole trace to FILE (- : stdout).",
			help: "FILE.json is Chrome-trace/Perfetto JSON (open it in ui.perfetto.dev: a track per CPU, slices\n" +
				"for tasks, irqs-off spans, handlers and csd functions, an arrow per IPI); FILE.dat is trace-cmd's\n" +
				"binary trace.dat (trace-cmd report, KernelShark); any other name gets ftrace text. The trace\n" +
				"covers the machine since it booted.",
			fn: cmdTrace},
		{name: "timeline", aliases: []string{"tl"}, group: "Looking", usage: "timeline [all|FROM..TO] [CPULIST]", args: []argKind{argTimeline},
			summary: "Draw the last interval (or all, or FROM..TO) as an ASCII timeline, one row per CPU.",
			help: "The last interval is the virtual time the last run, on, offline or online covered; all is\n" +
				"the whole run since boot; FROM..TO are virtual times with units (1ms..1.5ms, 20us..; either\n" +
				"side may be left out), and a narrow range zooms in down to 1ns per column. A column is a\n" +
				"slice of time; its glyph says what the CPU did then:\n" +
				"  .  idle                  =  a task ran            #  interrupts off (task level)\n" +
				"  >  sent an IPI           ~  an IPI on its way     !  an IPI held off by interrupts off\n" +
				"  H  an interrupt handler  N  an NMI                w  waiting for a CSD lock\n" +
				"  -  offline               X  an IPI lost (dropped): on its sender and its target\n" +
				"The IPIs of the interval are listed below the grid. At most 16 CPUs are drawn (all of a machine\n" +
				"of 16 or fewer, else the busy ones); CPULIST (e.g. 0-3,8) picks them.",
			fn: cmdTimeline},

		{name: "report", group: "Session", usage: "report FILE", args: []argKind{argFile},
			summary: "Write the session as a self-verifying bug report (a Lua file).",
			help: "The report holds the machine, the seed, every step of the session as the Lua it ran, and the\n" +
				"outcome and trace hash of replaying it; `xcallsh run FILE` replays it and says \"reproduced\"\n" +
				"or names the first event that differs. See docs/reports.md.",
			fn: cmdReport},
		{name: "source", group: "Session", usage: "source FILE", args: []argKind{argFile},
			summary: "Run FILE: a .lua file as one Lua chunk, any other file as shell lines.",
			help: "A .lua file runs at operator level under its own name, like a line of Lua. Any other file\n" +
				"is read line by line as if typed (Lua comments, --, work as comment lines); it stops at quit.\n" +
				"A report (--!xcallsh report) is checked as xcallsh run checks it: one of another schedule\n" +
				"format, or damaged, is refused.",
			fn: cmdSource, runs: true},
		{name: "help", aliases: []string{"h", "?"}, group: "Session", usage: "help [COMMAND]", args: []argKind{argCommand},
			summary: "List the commands, or describe one.",
			fn:      cmdHelp},
		{name: "restart", aliases: []string{"r"}, group: "Session", usage: "restart",
			summary: "Boot the same machine again, on the same seed, and re-run the files sourced since boot.",
			help: "A new session as boot gives one, on the machine and seed of this one; the files that source\n" +
				"ran since the last boot run again, in order, so a session started from a script starts over.",
			fn: cmdRestart},
		{name: "exit", aliases: []string{"q", "quit"}, group: "Session", usage: "exit",
			summary: "Leave the shell (so does Ctrl-D).",
			fn: func(sh *Shell, args, line string) error {
				sh.quit = true
				return nil
			}},
	}
}

// --- Machine -------------------------------------------------------------

func cmdMachinesShell(sh *Shell, args, line string) error {
	ListMachines(sh.out)
	return nil
}

func cmdBoot(sh *Shell, args, line string) error {
	f := strings.Fields(args)
	if len(f) < 1 || len(f) > 2 {
		return errors.New("usage: boot MACHINE [SEED]")
	}
	seed := sh.seed
	if len(f) == 2 {
		v, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return fmt.Errorf("boot: bad seed %q", f[1])
		}
		seed = v
	}
	sh.dropCheckpoints(0)
	oldMachine, oldForced, oldSeed := sh.machine, sh.forced, sh.seed
	sh.machine, sh.forced, sh.seed = expandPath(f[0]), true, seed
	if err := sh.boot(); err != nil {
		sh.machine, sh.forced, sh.seed = oldMachine, oldForced, oldSeed
		return fmt.Errorf("boot: %v", err)
	}
	spec := sh.sess.Spec()
	fmt.Fprintf(sh.out, "booted %s (%s), seed %d\n", spec.Name, spec.Description, sh.seed)
	return nil
}

func cmdRestart(sh *Shell, args, line string) error {
	if args != "" {
		return errors.New("usage: restart")
	}
	sourced := sh.sourced
	sh.dropCheckpoints(0)
	if err := sh.boot(); err != nil {
		return fmt.Errorf("restart: %v", err)
	}
	spec := sh.sess.Spec()
	fmt.Fprintf(sh.out, "restarted %s, seed %d\n", spec.Name, sh.seed)
	for _, f := range sourced {
		fmt.Fprintf(sh.out, "source %s\n", f)
		if err := cmdSource(sh, f, "source "+f); err != nil {
			return err
		}
	}
	return nil
}

func cmdPrint(sh *Shell, args, line string) error {
	if args == "" { // print alone is Lua's print function
		return sh.luaLine(line)
	}
	if _, err := sh.sess.L.Load(strings.NewReader("return "+args), "print"); err != nil {
		return fmt.Errorf("print: %s is not a Lua expression: %s", args, luaErr(err))
	}
	sh.ncmd++
	name := fmt.Sprintf("input#%d", sh.ncmd)
	vals, err := sh.run(line, name, "return "+args, true)
	if err == nil {
		fmt.Fprintln(sh.out, fmtValues(sh.sess.L, vals))
	}
	return err
}

func cmdCpus(sh *Shell, args, line string) error {
	k := sh.sess.K
	var cpus []int
	limit := 64
	if args != "" {
		list, err := machines.ParseCPUList(args)
		if err != nil {
			return fmt.Errorf("cpus: %v", err)
		}
		cpus, limit = list, len(list)
	} else {
		for c := 0; c < k.NrCPUIDs(); c++ {
			cpus = append(cpus, c)
		}
	}
	fmt.Fprintf(sh.out, "%4s  %-8s  %-4s  %-46s  %5s  %s\n", "CPU", "STATE", "IRQS", "RUNNING", "QUEUE", "PENDING")
	for i, c := range cpus {
		if i == limit {
			fmt.Fprintf(sh.out, "… %d more CPUs (cpus CPULIST shows them)\n", len(cpus)-i)
			break
		}
		if c < 0 || c >= k.NrCPUIDs() {
			return fmt.Errorf("cpus: cpu %d out of range 0-%d", c, k.NrCPUIDs()-1)
		}
		cpu := k.M.CPU(c)
		irqs := "on"
		if cpu.IRQsOff {
			irqs = "off"
		}
		fmt.Fprintf(sh.out, "%4d  %-8s  %-4s  %-46s  %5d  %s\n", c, k.CPUState(c), irqs,
			clip(describeCPU(cpu), 46), k.QueueDepth(c), sh.pendingNames(cpu))
	}
	return nil
}

// describeCPU says what a CPU runs, innermost context first.
func describeCPU(cpu *emu.CPU) string {
	var parts []string
	for c := cpu.Top(); c != nil; c = c.Parent() {
		name := c.Name
		switch c.Kind {
		case emu.KindIRQ:
			name = "irq"
		case emu.KindNMI:
			name = "nmi"
		default:
			name = fmt.Sprintf("%s-%d", c.Name, c.PID)
		}
		if c.Waiting() && c.Wait.What != "" {
			what := c.Wait.What
			if c.Wait.Num > 0 {
				what += fmt.Sprintf(" #%d", c.Wait.Num)
			}
			if c.Wait.Owner >= 0 {
				what += fmt.Sprintf(" owned by CPU%d", c.Wait.Owner)
			}
			name += " (" + what + ")"
		}
		parts = append(parts, name)
	}
	s := strings.Join(parts, " over ")
	if s == "" {
		s = "idle"
		if cpu.Parked {
			s = "parked"
		}
	}
	if n := cpu.RunQueue(); n > 0 {
		s += fmt.Sprintf(" (+%d queued)", n)
	}
	return s
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// cpuArg reads a CPU argument of cmd.
func (sh *Shell) cpuArg(cmd, s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s: bad CPU %q", cmd, s)
	}
	if nr := sh.sess.K.NrCPUIDs(); n < 0 || n >= nr {
		return 0, fmt.Errorf("%s: cpu %d out of range 0-%d", cmd, n, nr-1)
	}
	return n, nil
}

// --- Running -------------------------------------------------------------

func cmdOn(sh *Shell, args, line string) error {
	cpuS, chunk, _ := strings.Cut(args, " ")
	chunk = strings.TrimSpace(chunk)
	if cpuS == "" || chunk == "" {
		return errors.New("usage: on CPU LUA")
	}
	cpu, err := sh.cpuArg("on", cpuS)
	if err != nil {
		return err
	}
	sh.ncmd++
	name := fmt.Sprintf("on#%d", sh.ncmd)
	spawn := fmt.Sprintf("spawn(%d, \"on\", function() %s\nend)", cpu, chunk)
	if _, err := sh.sess.L.Load(strings.NewReader(spawn), name); err != nil {
		return errors.New(luaErr(err))
	}
	return sh.taskCommand(line, name, spawn, func(res []lua.LValue) {
		if len(res) > 0 {
			fmt.Fprintln(sh.out, fmtValues(sh.sess.L, res))
		}
	})
}

// taskCommand spawns a task with the Lua spawn (which must not return
// values), advances time until the task finishes, records the whole as one
// step, and hands the task's results to done.
func (sh *Shell) taskCommand(line, name, spawn string, done func([]lua.LValue)) error {
	vals, level, err := sh.runLevel(line, name, "return "+spawn, false)
	if err != nil || level > 0 {
		return err
	}
	t := luabind.TaskOf(first(vals))
	if t == nil {
		return fmt.Errorf("%s: spawn returned no task", name)
	}
	from := sh.sess.K.M.Now()
	adv, why, level := sh.advance(t.Finished, onLimit, true)
	sh.interval(from, from+adv)
	if level <= 1 {
		sh.steps = append(sh.steps, shellStep{line: line, name: name, src: spawn + "\nrun(" + units.Lua(adv) + ")",
			pre: "return " + spawn, adv: adv, advanced: true})
	} else {
		sh.notes = append(sh.notes, fmt.Sprintf("%q was interrupted inside its task; the report leaves it out", line))
	}
	sh.console()
	if t.Finished() {
		done(t.Results())
		return nil
	}
	if why == timeUp {
		why = fmt.Sprintf("still not done after %s of virtual time (run DURATION goes on)", units.Dur(onLimit))
	}
	if level == 1 {
		return fmt.Errorf("%s: interrupted at %s; the task is still there (run goes on)", name, units.Virtual(sh.sess.K.M.Now()))
	}
	if level > 1 {
		return fmt.Errorf("%s: interrupted inside its task, which failed and stopped the machine (boot starts over)", name)
	}
	return prefixed(name, why)
}

func first(vals []lua.LValue) lua.LValue {
	if len(vals) == 0 {
		return lua.LNil
	}
	return vals[0]
}

func cmdRunShell(sh *Shell, args, line string) error {
	if args == "" {
		return errors.New("usage: run DURATION (e.g. 6s, 250ms, 10us)")
	}
	d, err := units.ParseDuration(args)
	if err != nil {
		return fmt.Errorf("run: %v", err)
	}
	if d.Nanoseconds() > maxShellRun {
		return fmt.Errorf("run: %s is more than a year of virtual time", args)
	}
	sh.ncmd++
	name := fmt.Sprintf("run#%d", sh.ncmd)
	from := sh.sess.K.M.Now()
	// run(0) does what run() does first (the machine counts as started,
	// the events of this instant run); advance does the rest an instant at
	// a time. The step is the one run(d) it amounts to.
	if _, err := sh.run(line, name, "return run(0)", false); err != nil {
		sh.steps = append(sh.steps, shellStep{line: line, name: name, src: "return run(0)"})
		return err
	}
	var why string
	var level int
	if stopped, _ := sh.sess.K.M.Stopped(); !stopped {
		_, why, level = sh.advance(func() bool { return false }, d.Nanoseconds(), false)
	}
	adv := sh.sess.K.M.Now() - from
	sh.interval(from, from+adv)
	switch {
	case level == 0:
		sh.steps = append(sh.steps, shellStep{line: line, name: name, src: "return run(" + units.Lua(d.Nanoseconds()) + ")",
			pre: "return run(0)", adv: d.Nanoseconds(), advanced: true})
	case level == 1:
		sh.steps = append(sh.steps, shellStep{line: line, name: name, src: "return run(" + units.Lua(adv) + ")",
			pre: "return run(0)", adv: adv, advanced: true})
	default:
		sh.notes = append(sh.notes, fmt.Sprintf("%q was interrupted inside a task; the report leaves it out", line))
	}
	sh.console()
	switch {
	case level == 1:
		return fmt.Errorf("%s: interrupted at virtual time %s", name, units.Virtual(sh.sess.K.M.Now()))
	case level > 1:
		return fmt.Errorf("%s: interrupted inside a task, which failed and stopped the machine (boot starts over)", name)
	case sh.sess.K.Panicked() != "":
		fmt.Fprintf(sh.out, "panic: %s\n", sh.sess.K.Panicked())
	case why != timeUp && why != "":
		return prefixed(name, why)
	}
	if st := sh.sess.K.Stuck(); st != "" {
		fmt.Fprintf(sh.out, "stuck: %s\n", st)
	}
	fmt.Fprintf(sh.out, "virtual time %s\n", units.Virtual(sh.sess.K.M.Now()))
	return nil
}

// maxShellRun is the longest run the shell takes (run()'s own limit).
const maxShellRun = 365 * 24 * 3600 * 1e9

func cmdStall(sh *Shell, args, line string) error {
	f := strings.Fields(args)
	if len(f) != 2 {
		return errors.New("usage: stall CPU DURATION")
	}
	cpu, err := sh.cpuArg("stall", f[0])
	if err != nil {
		return err
	}
	d, err := units.ParseDuration(f[1])
	if err != nil {
		return fmt.Errorf("stall: %v", err)
	}
	sh.ncmd++
	name := fmt.Sprintf("stall#%d", sh.ncmd)
	src := fmt.Sprintf("return spawn(%d, \"stall\", function() local flags = local_irq_save() ndelay(%s) local_irq_restore(flags) end)",
		cpu, units.Lua(d.Nanoseconds()))
	c := sh.sess.K.M.CPU(cpu)
	busy := c.Top() != nil || c.RunQueue() > 0
	if _, err := sh.run(line, name, src, true); err != nil {
		return err
	}
	when := "from " + units.Virtual(sh.sess.K.M.Now())
	if busy {
		when = fmt.Sprintf("once CPU%d is free", cpu)
	}
	fmt.Fprintf(sh.out, "CPU%d: interrupts off for %s, %s (run lets time pass)\n", cpu, units.Dur(d.Nanoseconds()), when)
	return nil
}

// cmdHotplug builds offline and online.
func cmdHotplug(cmd, fn string) func(sh *Shell, args, line string) error {
	return func(sh *Shell, args, line string) error {
		if sh.sess.L.GetGlobal(fn) == lua.LNil {
			return fmt.Errorf("%s: not available in this build (the kernel function %s() is missing)", cmd, fn)
		}
		if args == "" || strings.ContainsAny(args, " \t") {
			return fmt.Errorf("usage: %s CPU", cmd)
		}
		cpu, err := sh.cpuArg(cmd, args)
		if err != nil {
			return err
		}
		k := sh.sess.K
		host := -1
		for c := 0; c < k.NrCPUIDs(); c++ {
			if c != cpu && k.Online(c) {
				host = c
				break
			}
		}
		if host < 0 {
			return fmt.Errorf("%s: no other online CPU to run %s() on", cmd, fn)
		}
		sh.ncmd++
		name := fmt.Sprintf("%s#%d", cmd, sh.ncmd)
		spawn := fmt.Sprintf("spawn(%d, \"cpuhp\", function() return %s(%d)\nend)", host, fn, cpu)
		return sh.taskCommand(line, name, spawn, func(res []lua.LValue) {
			ret := lua.LVAsString(first(res))
			if n, ok := first(res).(lua.LNumber); ok && n < 0 {
				ret += " (" + errnoName(int(-n)) + ")"
			}
			fmt.Fprintf(sh.out, "%s(%d) = %s; CPU%d is %s\n", fn, cpu, ret, cpu, k.CPUState(cpu))
		})
	}
}

func errnoName(e int) string {
	switch e {
	case xcall.ENXIO:
		return "-ENXIO"
	case xcall.EBUSY:
		return "-EBUSY"
	case xcall.EINVAL:
		return "-EINVAL"
	case xcall.ENOMEM:
		return "-ENOMEM"
	case xcall.EPERM:
		return "-EPERM"
	}
	return fmt.Sprintf("errno %d", e)
}

// --- Faults and parameters -----------------------------------------------

// paramNames are luabind's: the shell's param command passes them to param().
var paramNames = luabind.ParamNames()

// peek evaluates a read-only Lua expression, unrecorded.
func (sh *Shell) peek(expr string) (lua.LValue, error) {
	vals, err := sh.sess.Exec("peek", "return "+expr)
	return first(vals), err
}

func cmdParam(sh *Shell, args, line string) error {
	f := strings.Fields(args)
	show := func(name string) error {
		v, err := sh.peek(fmt.Sprintf("param(%s)", report.LuaQuote(name)))
		if err != nil {
			return err
		}
		unit := ""
		if name != "csdlock_debug" {
			unit = " ms"
		}
		fmt.Fprintf(sh.out, "%-18s %s%s\n", name, lua.LVAsString(v), unit)
		return nil
	}
	if len(f) == 0 {
		for _, n := range paramNames {
			if err := show(n); err != nil {
				return err
			}
		}
		return nil
	}
	name := f[0]
	known := false
	for _, n := range paramNames {
		known = known || n == name
	}
	if !known {
		return fmt.Errorf("param: unknown parameter %q (known: %s)", name, strings.Join(paramNames, ", "))
	}
	switch len(f) {
	case 1:
		return show(name)
	case 2:
	default:
		return errors.New("usage: param [NAME [VALUE]]")
	}
	var v int64
	switch s := f[1]; s {
	case "on", "true":
		v = 1
	case "off", "false":
		v = 0
	default:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			d, derr := units.ParseDuration(s)
			if derr != nil || d.Nanoseconds()%1e6 != 0 {
				return fmt.Errorf("param: bad value %q (an integer, on/off, or a whole number of ms such as 5s)", s)
			}
			n = d.Milliseconds()
		}
		if n < 0 {
			return fmt.Errorf("param: negative value %q", s)
		}
		v = n
	}
	sh.ncmd++
	_, err := sh.run(line, fmt.Sprintf("param#%d", sh.ncmd), fmt.Sprintf("param(%s, %d)", report.LuaQuote(name), v), true)
	if err != nil {
		return err
	}
	return show(name)
}

func cmdDrop(sh *Shell, args, line string) error {
	f := strings.Fields(args)
	if len(f) < 1 || len(f) > 2 {
		return errors.New("usage: drop CPU [N]")
	}
	cpu, err := sh.cpuArg("drop", f[0])
	if err != nil {
		return err
	}
	n := 1
	if len(f) == 2 {
		if n, err = strconv.Atoi(f[1]); err != nil || n < 0 {
			return fmt.Errorf("drop: bad count %q", f[1])
		}
	}
	sh.ncmd++
	if _, err := sh.run(line, fmt.Sprintf("drop#%d", sh.ncmd), fmt.Sprintf("ipi_drop(%d, %d)", cpu, n), true); err != nil {
		return err
	}
	fmt.Fprintf(sh.out, "the next %d IPI(s) sent to CPU%d will be lost\n", n, cpu)
	return nil
}

func cmdFix(sh *Shell, args, line string) error {
	f := strings.Fields(args)
	k := sh.sess.K
	show := func(fx xcall.Fix) {
		state := "on "
		if on, _ := k.FixApplied(fx.Name); !on {
			state = "off"
		}
		fmt.Fprintf(sh.out, "%s  %-28s %s %s\n", state, fx.Name, fx.Commit, fx.Title)
	}
	if len(f) == 0 {
		for _, fx := range xcall.Fixes {
			show(fx)
		}
		return nil
	}
	var fx *xcall.Fix
	for i := range xcall.Fixes {
		if xcall.Fixes[i].Name == f[0] {
			fx = &xcall.Fixes[i]
		}
	}
	if fx == nil {
		var names []string
		for _, x := range xcall.Fixes {
			names = append(names, x.Name)
		}
		return fmt.Errorf("fix: unknown fix %q (known: %s)", f[0], strings.Join(names, ", "))
	}
	if len(f) == 1 {
		show(*fx)
		return nil
	}
	if len(f) != 2 || (f[1] != "on" && f[1] != "off") {
		return errors.New("usage: fix [NAME [on|off]]")
	}
	sh.ncmd++
	src := fmt.Sprintf("fix(%s, %v)", report.LuaQuote(fx.Name), f[1] == "on")
	if _, err := sh.run(line, fmt.Sprintf("fix#%d", sh.ncmd), src, true); err != nil {
		return err
	}
	show(*fx)
	return nil
}

// --- Looking -------------------------------------------------------------

func cmdDmesg(sh *Shell, args, line string) error {
	log := sh.sess.K.M.Log()
	from := 0
	if args != "" {
		n, err := strconv.Atoi(args)
		if err != nil || n < 0 {
			return fmt.Errorf("dmesg: bad line count %q", args)
		}
		from = max(0, len(log)-n)
	}
	for _, l := range log[from:] {
		fmt.Fprintln(sh.out, l.String())
	}
	sh.logShown = sh.sess.K.M.LogPrinted()
	return nil
}

// span returns the last interval, or the whole run if there was none.
func (sh *Shell) span() (int64, int64) {
	if sh.to > sh.from {
		return sh.from, sh.to
	}
	return 0, sh.sess.K.M.Now()
}

func cmdTrace(sh *Shell, args, line string) error {
	if err := sh.ensureViews(); err != nil {
		return fmt.Errorf("trace: %v", err)
	}
	a := sh.rec.Act
	if args != "" {
		return sh.writeTrace(args)
	}
	from, to := sh.span()
	var lines []string
	for _, e := range a.Events() {
		if e.T >= from && e.T <= to {
			lines = append(lines, e.String())
		}
	}
	const show = 60
	if len(lines) > show {
		fmt.Fprintf(sh.out, "… %d earlier events (trace FILE writes them all)\n", len(lines)-show)
		lines = lines[len(lines)-show:]
	}
	for _, l := range lines {
		fmt.Fprintln(sh.out, l)
	}
	if len(lines) == 0 {
		fmt.Fprintf(sh.out, "no tracepoint hits from %s to %s\n", units.Virtual(from), units.Virtual(to))
	}
	return nil
}

func (sh *Shell) writeTrace(file string) error {
	a := sh.rec.Act
	m := sh.sess.K.M
	if file == "-" { // ftrace text to stdout
		return a.WriteFtrace(sh.out)
	}
	file = expandPath(file)
	if traces.IsTraceDat(file) {
		dat, ok := sh.rec.Trace.(*traces.TraceDat)
		if !ok {
			return errors.New("trace: no trace.dat kept for this session")
		}
		if err := files.Write(file, func(w io.Writer) error { _, err := dat.WriteTo(w); return err }); err != nil {
			return fmt.Errorf("trace: %v", err)
		}
		fmt.Fprintf(sh.out, "wrote %s: trace-cmd trace.dat (trace-cmd report reads it), %d tracepoint hits, up to %s\n",
			file, dat.Entries(), units.Virtual(m.Now()))
		return nil
	}
	json := strings.HasSuffix(strings.ToLower(file), ".json")
	err := files.Write(file, func(w io.Writer) error {
		if json {
			return a.WriteJSON(w, m.Now(), sh.rec.Log.Hash())
		}
		return a.WriteFtrace(w)
	})
	if err != nil {
		return fmt.Errorf("trace: %v", err)
	}
	what := "ftrace text"
	if json {
		what = "Perfetto JSON (open it in ui.perfetto.dev)"
	}
	fmt.Fprintf(sh.out, "wrote %s: %s, %d tracepoint hits, %d IPIs, up to %s\n", file, what, len(a.Events()), a.IPIs(), units.Virtual(m.Now()))
	return nil
}

func cmdTimeline(sh *Shell, args, line string) error {
	if err := sh.ensureViews(); err != nil {
		return fmt.Errorf("timeline: %v", err)
	}
	from, to := sh.span()
	now := sh.sess.K.M.Now()
	var cpus []int
	for _, f := range strings.Fields(args) {
		if f == "all" {
			from, to = 0, now
			continue
		}
		if strings.Contains(f, "..") {
			r, err := traces.ParseRange(f)
			if err == nil {
				from, to, err = r.Resolve(now)
			}
			if err != nil {
				return fmt.Errorf("timeline: %v", err)
			}
			continue
		}
		list, err := machines.ParseCPUList(f)
		if err != nil {
			return fmt.Errorf("timeline: %v", err)
		}
		cpus = append(cpus, list...)
	}
	fmt.Fprint(sh.out, sh.rec.Act.Timeline(from, to, now, cpus))
	return nil
}

// --- Session -------------------------------------------------------------

func cmdReport(sh *Shell, args, line string) error {
	if args == "" {
		return errors.New("usage: report FILE")
	}
	return sh.writeReport(expandPath(args))
}

// maxSourceDepth bounds source files that source each other.
const maxSourceDepth = 8

var sourceDepth int

func cmdSource(sh *Shell, args, line string) error {
	if args == "" {
		return errors.New("usage: source FILE")
	}
	typed := args
	args = expandPath(args)
	data, err := files.Read(args)
	if err != nil {
		return fmt.Errorf("source: %v", err)
	}
	// A report is replayed by the schedule it records, which only a build
	// of its schedule format draws the same way: refused, as xcallsh run
	// refuses it (report.FormatError names the build that replays it).
	if report.IsReport(string(data)) {
		if _, err := report.Parse(args, string(data)); err != nil {
			return fmt.Errorf("source: %v", err)
		}
	}
	if sourceDepth == 0 {
		sh.sourced = append(sh.sourced, typed)
	}
	if strings.HasSuffix(args, ".lua") {
		if _, err := sh.sess.L.Load(strings.NewReader(string(data)), args); err != nil {
			return errors.New(luaErr(err))
		}
		vals, err := sh.run(line, args, string(data), true)
		if len(vals) > 0 {
			fmt.Fprintln(sh.out, fmtValues(sh.sess.L, vals))
		}
		return err
	}
	if sourceDepth >= maxSourceDepth {
		return fmt.Errorf("source: files nested more than %d deep", maxSourceDepth)
	}
	sourceDepth++
	defer func() { sourceDepth-- }()
	lines := strings.Split(string(data), "\n")
	failed := 0
	for i := 0; i < len(lines) && !sh.quit; i++ {
		l, at := lines[i], i+1
		for sh.incomplete(l) && i+1 < len(lines) {
			i++
			l += "\n" + lines[i]
		}
		if err := sh.execLine(l); err != nil {
			failed++
			fmt.Fprintf(sh.errOut, "%s:%d: %v\n", args, at, err)
		}
	}
	if failed > 0 {
		return fmt.Errorf("source: %d of the lines of %s failed", failed, filepath.Base(args))
	}
	return nil
}

func cmdHelp(sh *Shell, args, line string) error {
	if args != "" {
		c := findCommand(args)
		if c == nil {
			return fmt.Errorf("help: no command %q (help lists them)", args)
		}
		fmt.Fprintf(sh.out, "%s\n\n%s\n", c.usage, c.summary)
		if c.help != "" {
			fmt.Fprintf(sh.out, "\n%s\n", c.help)
		}
		if len(c.aliases) > 0 {
			fmt.Fprintf(sh.out, "\nAliases: %s\n", strings.Join(c.aliases, ", "))
		}
		return nil
	}
	fmt.Fprintln(sh.out, "Commands:")
	for _, g := range groups {
		fmt.Fprintf(sh.out, "\n%s:\n", g)
		for _, c := range commands() {
			if c.group == g {
				fmt.Fprintf(sh.out, "    %-26s %s\n", c.usage, c.summary)
				if len(c.aliases) > 0 {
					fmt.Fprintf(sh.out, "    %-26s (alias %s)\n", "", strings.Join(c.aliases, ", "))
				}
			}
		}
	}
	fmt.Fprint(sh.out, `
Any other line is Lua at operator level (the API of scripts: spawn, run, param, dmesg_find, ...);
its values are printed. Durations read like 6s, 250ms, 10us, 100ns. Type help COMMAND for more.
`)
	return nil
}

// ListMachines lists the built-in machines, one a line, the default marked
// (the shell's machines command and `xcallsh machines`).
func ListMachines(w io.Writer) {
	for _, m := range machines.Builtins() {
		def := ""
		if m.Name == machines.Default {
			def = " (default)"
		}
		fmt.Fprintf(w, "%-12s %s%s\n", m.Name, m.Description, def)
	}
}
