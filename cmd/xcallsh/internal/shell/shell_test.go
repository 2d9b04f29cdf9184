package shell

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/traces/tracetest"
)

// A piped session: no prompt, no escape codes; commands and Lua mixed.
func TestShellPiped(t *testing.T) {
	in := `help
machines
cpus
param csdlock_debug on
function greet(info) printk("greet %d on CPU %d", info, smp_processor_id()) end
on 0 return smp_call_function_single(2, greet, 7, 1)
now()
x = {1, 2,
  a = "b"}
x
dmesg 1
quit
run 1s
`
	st, out, errOut := pipe(t, in, "")
	if st != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", st, out, errOut)
	}
	contains(t, "help", out, "Commands:", "on CPU LUA", "Any other line is Lua")
	contains(t, "machines", out, "x86-4", "arm64-8")
	contains(t, "cpus", out, "CPU  STATE", "idle")
	contains(t, "param", out, "csdlock_debug      1")
	contains(t, "on", out, "greet 7 on CPU 2", "\n0\n")
	contains(t, "table", out, `{1, 2, a = "b"}`)
	if strings.Contains(out, "xcallsh>") || strings.Contains(out, "\x1b") {
		t.Errorf("piped output has a prompt or escape codes:\n%q", out)
	}
	if strings.Contains(out, "virtual time 1.") {
		t.Errorf("lines after quit ran:\n%s", out)
	}
	contains(t, "summary", errOut, "xcallsh: x86-4 seed 0:", "outcome ok")
}

func TestShellPipedFailureStatus(t *testing.T) {
	st, _, errOut := pipe(t, "nosuch()\n", "")
	if st != 1 {
		t.Errorf("exit %d, want 1", st)
	}
	contains(t, "stderr", errOut, "input#1:1: attempt to call a non-function object")
	if st, _, _ := pipe(t, "", "nosuch"); st != 2 {
		t.Errorf("bad machine: exit %d, want 2", st)
	}
}

func TestLookupCommand(t *testing.T) {
	for line, want := range map[string]string{
		"run 5ms":        "run",
		"r":              "restart",
		"boot ./m.toml":  "boot",
		"source ../x":    "source",
		"report ~/r.lua": "report",
		"trace -":        "trace",
		"p now()":        "print",
		"q":              "exit",
		"run = 3":        "",
		"run(ms(5))":     "",
		"help(x)":        "",
		"cpus":           "cpus",
		"on 1 x = 1":     "on",
		"dmesg_find()":   "",
		"?":              "help",
	} {
		cmd, _, ok := lookupCommand(line)
		got := ""
		if ok {
			got = cmd.name
		}
		if got != want {
			t.Errorf("%q: command %q, want %q", line, got, want)
		}
	}
}

func TestShellCommands(t *testing.T) {
	sh := newTestShell(t, "x86-4", 0)
	contains(t, "help on", sh.must(t, "help on"), "on CPU LUA", "10s of virtual time")
	contains(t, "help alias", sh.must(t, "h q"), "exit", "Aliases: q, quit")
	contains(t, "unknown", sh.Exec("help nosuch"), `no command "nosuch"`)
	contains(t, "param all", sh.must(t, "param"), "csdlock_debug", "csd_lock_timeout", "panic_on_ipistall")
	contains(t, "param ms", sh.must(t, "param csd_lock_timeout 2s"), "csd_lock_timeout   2000 ms")
	contains(t, "bad param", sh.Exec("param nosuch 1"), `unknown parameter "nosuch"`)
	contains(t, "fix list", sh.must(t, "fix"), "dying_flush", "8d056c48e486")
	contains(t, "fix off", sh.must(t, "fix async_ebusy off"), "off  async_ebusy")
	contains(t, "fix bad", sh.Exec("fix nosuch on"), `unknown fix "nosuch"`)
	contains(t, "drop", sh.must(t, "drop 3 2"), "the next 2 IPI(s) sent to CPU3 will be lost")
	contains(t, "bad cpu", sh.Exec("drop 9"), "cpu 9 out of range 0-3")
	contains(t, "stall", sh.must(t, "stall 1 2ms"), "CPU1: interrupts off for 2ms, from 0.000000000s")
	contains(t, "cpus stalled", sh.must(t, "run 1us"), "virtual time 0.000001000s")
	contains(t, "cpus", sh.must(t, "cpus 1"), "stall-100 (busy-waits in ndelay)", " off ")
	contains(t, "on waits", sh.must(t, "on 0 return smp_call_function_single(1, function() end, nil, 1), now()"),
		"0\t2000450")
	contains(t, "timeline", sh.must(t, "timeline"), "CPU0", "CPU1", "!", "H", "CPU0 > CPU1")
	contains(t, "trace", sh.must(t, "trace"), "ipi_send_cpu: cpu=1", "call_function_single_entry")
	contains(t, "dmesg", sh.must(t, "dmesg"), "smp: Brought up 1 node, 4 CPUs")
	dir := t.TempDir()
	contains(t, "trace json", sh.must(t, "trace "+filepath.Join(dir, "s.json")), "Perfetto JSON", "1 IPIs")
	tracetest.CheckPerfetto(t, filepath.Join(dir, "s.json"), "x86-4", 4)
	contains(t, "trace txt", sh.must(t, "trace "+filepath.Join(dir, "s.txt")), "ftrace text")
	if txt, _ := os.ReadFile(filepath.Join(dir, "s.txt")); !strings.Contains(string(txt), "ipi_send_cpu: cpu=1") {
		t.Errorf("shell ftrace text:\n%s", txt)
	}
	contains(t, "bad duration", sh.Exec("run 5"), "needs a unit")
	contains(t, "on syntax", sh.Exec("on 0 return +"), "on#")
	// offline/online: the hotplug functions may not be there yet.
	out := sh.Exec("offline 3")
	if !strings.Contains(out, "not available in this build") && !strings.Contains(out, "cpu_down(3) = ") {
		t.Errorf("offline: %s", out)
	}
	contains(t, "offline 0", sh.Exec("offline 0"), "cpu_down(0) = -1 (-EPERM); CPU0 is online")
	contains(t, "boot", sh.must(t, "boot arm64-8 3"), "booted arm64-8", "seed 3")
	contains(t, "cpus arm64", sh.must(t, "cpus"), "   7  online")
	if len(sh.steps) != 0 {
		t.Errorf("boot kept %d steps", len(sh.steps))
	}
}

func TestShellValues(t *testing.T) {
	sh := newTestShell(t, "x86-4", 0)
	for _, c := range [][2]string{
		{"1, 'a', nil", "1\ta\tnil"},
		{"cpumask('0-2')", "0-2"},
		{"{b = 2, a = {1, 2}, [5]=1}", "{[5] = 1, a = {1, 2}, b = 2}"},
		{"spawn(1, function() end)", "<task: running>"},
		{"print", "<builtin function>"},
		{"function() end", "<function input#6:1>"},
		{"fixes()[1].name", "dying_flush"},
	} {
		line, want := c[0], c[1]
		if got := strings.TrimSpace(sh.must(t, line)); got != want {
			t.Errorf("%s = %q, want %q", line, got, want)
		}
	}
}

func TestCompletion(t *testing.T) {
	sh := newTestShell(t, "x86-4", 0)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "m.toml"), nil, 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	for _, c := range []struct {
		line string
		want []string // full lines
	}{
		{"timel", []string{"timeline "}},
		{"ma", []string{"machines ", "machine", "math"}},
		{"param csd_lock_t", []string{"param csd_lock_timeout "}},
		{"fix async_", []string{"fix async_ebusy ", "fix async_unlock_before_func "}},
		{"fix dying_flush o", []string{"fix dying_flush on ", "fix dying_flush off "}},
		{"boot x86-x", []string{"boot x86-xapic-8 "}},
		{"drop ", []string{"drop 0 ", "drop 1 ", "drop 2 ", "drop 3 "}},
		{"on 1 smp_call_function_sin", []string{"on 1 smp_call_function_single", "on 1 smp_call_function_single_async"}},
		{"x = string.fo", []string{"x = string.format"}},
		{"help sta", []string{"help stall "}},
		{"info c", []string{"info cpus "}},
		{"break csd_function_en", []string{"break csd_function_entry "}},
		{"boot " + dir + "/m", []string{"boot " + dir + "/m.toml "}},
		{"source " + dir + "/s", []string{"source " + dir + "/sub/"}},
	} {
		head, got, tail := sh.complete(c.line, len([]rune(c.line)))
		var lines []string
		for _, g := range got {
			lines = append(lines, head+g+tail)
		}
		if strings.Join(lines, "|") != strings.Join(c.want, "|") {
			t.Errorf("complete(%q) = %q, want %q", c.line, lines, c.want)
		}
	}
}

// Lines that are neither commands nor Lua name the command they look like.
func TestShellNeverSurprises(t *testing.T) {
	sh := newTestShell(t, "x86-4", 0)
	for line, want := range map[string]string{
		"bot x86-64":            `unknown command "bot" (did you mean boot?)`,
		"cpuss":                 `unknown command "cpuss" (did you mean cpus?)`,
		"machnes":               `unknown command "machnes" (did you mean machines?)`,
		"cpu":                   `usage: cpu CPU (info cpus shows them all)`,
		"contnue":               `unknown command "contnue" (did you mean continue?)`,
		"x = = 1":               "syntax error",
		"nosuch()":              "attempt to call a non-function object",
		"boot ./nosuch.toml":    "boot: loading machine \"./nosuch.toml\"",
		"source ~/no/such/file": "source: open ",
	} {
		got := sh.Exec(line)
		if !strings.Contains(got, want) {
			t.Errorf("%q: %q, want %q", line, got, want)
		}
		if strings.TrimSpace(got) == "nil" {
			t.Errorf("%q printed nil", line)
		}
	}
	// A user's global shadows an alias; print and p print expressions.
	sh.must(t, "t = {b = 1}")
	if got := sh.must(t, "t"); got != "{b = 1}\n" {
		t.Errorf("t = %q", got)
	}
	sh.must(t, "function p(x) return x * 2 end")
	if got := sh.must(t, "p (21)"); got != "42\n" {
		t.Errorf("a user's p: %q", got)
	}
	sh.must(t, "p = nil")
	if got := sh.must(t, "p now()"); got != "0\n" {
		t.Errorf("p now() = %q", got)
	}
	if got := sh.must(t, "print 6*7"); got != "42\n" {
		t.Errorf("print 6*7 = %q", got)
	}
	// One prefix on an error; then the session is over until restart.
	got := sh.Exec("on 0 error('boom')")
	if strings.TrimSpace(got) != "on#9:1: boom" {
		t.Errorf("on error: %q", got)
	}
	contains(t, "over", sh.Exec("run 1ms"), "the session is over (on#9:1: boom); boot or restart starts a new one")
	contains(t, "over lua", sh.Exec("now()"), "the session is over")
	contains(t, "still looks", sh.must(t, "cpus 0"), "on-100 (failed)")
	contains(t, "restart", sh.must(t, "r"), "restarted x86-4, seed 0")
	contains(t, "after restart", sh.must(t, "run 1ms"), "virtual time 0.001000000s")
	// trace - writes ftrace text to stdout.
	sh.must(t, "on 0 return smp_call_function_single(1, function() end, nil, 1)")
	contains(t, "trace -", sh.must(t, "trace -"), "# tracer: nop", "ipi_send_cpu: cpu=1")
}

// restart re-runs what was sourced; piped input with a failed line exits 1.
func TestShellRestartSource(t *testing.T) {
	f := tempFile(t, "setup.xc", "param csd_lock_timeout 2s\nfunction f() return 7 end\n")
	sh := newTestShell(t, "x86-4", 0)
	sh.must(t, "source "+f)
	sh.must(t, "f = nil")
	contains(t, "restart", sh.must(t, "restart"), "source "+f, "csd_lock_timeout   2000 ms")
	if got := sh.must(t, "f()"); got != "7\n" {
		t.Errorf("f() after restart = %q", got)
	}
	st, out, errOut := pipe(t, "cpuss\nnow()\n", "")
	if st != 1 || !strings.Contains(errOut, "did you mean cpus?") || out != "0\n" {
		t.Errorf("piped: exit %d, stdout %q, stderr %q", st, out, errOut)
	}
}

// Enter repeats only step, next and continue.
func TestShellRepeat(t *testing.T) {
	sh := newTestShell(t, "x86-4", 0)
	sh.interactive = true
	sh.must(t, "run 1ms")
	if got := sh.must(t, ""); got != "" {
		t.Errorf("Enter after run: %q", got)
	}
}

// The looking commands show a CPU stuck behind another's interrupts-off
// section in the kernel's terms.
func TestShellLooking(t *testing.T) {
	sh := newTestShell(t, "x86-4", 0)
	sh.must(t, "param csdlock_debug on")
	sh.must(t, "stall 1 6s")
	sh.must(t, "run 10us")
	sh.must(t, "function greet() end")
	sh.must(t, "spawn(0, function() smp_call_function_single(1, greet, 7, 1) end)")
	sh.must(t, "run 100us")
	contains(t, "info cpus", sh.must(t, "info cpus"),
		"   1  online            stall-100         task                          off         0        0  -            1  CALL_FUNCTION_SINGLE_VECTOR",
		"   2  online            swapper/2         idle")
	contains(t, "cpu 0", sh.must(t, "cpu 0"), "CPU0: online, active, cpuhp state online", "preempt_count:     1",
		"csd_lock_wait:     spins on csd #1")
	contains(t, "cpu 1", sh.must(t, "cpu 1"), "irqs_disabled:     true", "pending:           CALL_FUNCTION_SINGLE_VECTOR")
	contains(t, "queue 1", sh.must(t, "queue 1"), "#1     00000000b22db5cc  0x11   CSD_TYPE_SYNC      greet")
	contains(t, "queue 0", sh.must(t, "queue 0"), "call_single_queue of CPU0 is empty")
	contains(t, "csd 1", sh.must(t, "csd 1"), "flags 0x11 (CSD_FLAG_LOCK | CSD_TYPE_SYNC), func greet, info 0x7",
		"locked by CPU0 at 0.000010000s", "queued on CPU1's call_single_queue at 0.000010000s", "CPU0 input_5_1-101 waits in csd_lock_wait()")
	contains(t, "bt 0", sh.must(t, "bt 0"), "Call Trace:\n <TASK> input_5_1-101\n  csd_lock_wait_toolong+0x1b0/0x3c0\n  smp_call_function_single+0x118/0x1a0\n")
	contains(t, "where 2", sh.must(t, "where 2"), "idling at default_idle+0x9/0x20")
	contains(t, "no csd", sh.Exec("csd 99"), "no csd #99")
	contains(t, "cpus names vectors", sh.must(t, "cpus 1"), "CALL_FUNCTION_SINGLE_VECTOR")
	sh.must(t, "run 6s")
	contains(t, "csd 1 after", sh.must(t, "csd 1"), "flags 0x00", "last locked by CPU0", "its function started on CPU1 at 6.", "unlocked at 6.", "nobody waits on it")
	contains(t, "arm64", sh.must(t, "boot arm64-8"), "booted arm64-8")
	sh.must(t, "stall 5 1ms")
	sh.must(t, "spawn(0, function() smp_call_function_single(5, function() end, nil, 0) end)")
	sh.must(t, "run 10us")
	contains(t, "arm64 pending", sh.must(t, "info cpus 5"), "IPI_CALL_FUNC")
}
