package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A shell session becomes a report; the report replays; an edited copy
// diverges and names the event; a damaged one is refused.
func TestShellReport(t *testing.T) {
	sh := newTestShell(t, "x86-4", 5)
	for _, l := range []string{
		"param csdlock_debug 1",
		"param csd_lock_timeout 100ms",
		"stall 1 300ms",
		"function work(info) printk('work %d on %d', info, smp_processor_id()) end",
		"on 0 return smp_call_function_single(1, work, 1, 1)",
		"on 2 on_each_cpu(work, 2, 1)",
		"run 10ms",
		"nosuch()",
	} {
		sh.Exec(l)
	}
	dir := t.TempDir()
	rep := filepath.Join(dir, "session.lua")
	contains(t, "report", sh.must(t, "report "+rep), "8 steps", "it reproduces this session exactly")
	text, _ := os.ReadFile(rep)
	contains(t, "report text", string(text), "--!xcallsh report v2", "--! seed: 5", "machine([=[", `name = "x86-4"`,
		"-- xcallsh> stall 1 300ms", `step("on#5"`, "--! end\n")

	st, out, errOut := xcallsh(t, "", "run", rep)
	if st != 0 {
		t.Fatalf("replay: exit %d\n%s\n%s", st, out, errOut)
	}
	contains(t, "replay", out, "reproduced: outcome ok", "input#8:1: attempt to call a non-function object")

	edited := strings.Replace(string(text), "'work %d on %d'", "'work %d on CPU %d'", -1)
	st, out, _ = xcallsh(t, "", "run", tempFile(t, "edited.lua", edited))
	if st != 1 {
		t.Errorf("edited: exit %d, want 1\n%s", st, out)
	}
	if !regexp.MustCompile(`first difference at event #\d+, 0\.\d+s in the replay:\n  \[ +0\.\d+\] work 1 on CPU 1`).MatchString(out) {
		t.Errorf("edited: the divergence is not named:\n%s", out)
	}

	for name, damage := range map[string]func(string) string{
		"truncated":   func(s string) string { return s[:len(s)/2] },
		"no end":      func(s string) string { return strings.Replace(s, "--! end\n", "", 1) },
		"bad seed":    func(s string) string { return strings.Replace(s, "--! seed: 5", "--! seed: five", 1) },
		"bad hash":    func(s string) string { return regexp.MustCompile(`--! hash: \w+`).ReplaceAllString(s, "--! hash: zz") },
		"no outcome":  func(s string) string { return regexp.MustCompile(`--! outcome: \w+\n`).ReplaceAllString(s, "") },
		"short sums":  func(s string) string { return regexp.MustCompile(`--! sum: .*\n`).ReplaceAllString(s, "") },
		"unknown key": func(s string) string { return strings.Replace(s, "--! seed: 5", "--! seed: 5\n--! colour: red", 1) },
		"version":     func(s string) string { return strings.Replace(s, "report v2", "report v9", 1) },
	} {
		st, _, errOut := xcallsh(t, "", "run", tempFile(t, "damaged.lua", damage(string(text))))
		if st != 2 || !strings.Contains(errOut, "damaged.lua:") || !strings.Contains(errOut, "damaged report") {
			t.Errorf("%s: exit %d, want 2 with a message naming the file:\n%s", name, st, errOut)
		}
	}
}

// A piped session can write a report too, and `source` replays shell lines.
func TestShellSourceAndPipedReport(t *testing.T) {
	dir := t.TempDir()
	cmds := tempFile(t, "cmds.txt", "-- a comment\nstall 2 1ms\non 0 return smp_call_function_single(2, function() end, nil, 1)\n")
	lua := tempFile(t, "more.lua", "spawn(3, 'late', function() mdelay(1) end)\nrun(ms(2))\nreturn now()\n")
	rep := filepath.Join(dir, "p.lua")
	st, out, errOut := xcallsh(t, "source "+cmds+"\nsource "+lua+"\nreport "+rep+"\n")
	if st != 0 {
		t.Fatalf("exit %d\n%s\n%s", st, out, errOut)
	}
	contains(t, "source", out, "CPU2: interrupts off for 1ms", "\n3000450\n", "it reproduces this session exactly")
	if st, out, _ := xcallsh(t, "", "run", rep); st != 0 || !strings.Contains(out, "reproduced") {
		t.Errorf("replay: exit %d\n%s", st, out)
	}
	bad := tempFile(t, "bad.txt", "run 1ms\nrun five\n")
	st, _, errOut = xcallsh(t, "source "+bad+"\n")
	if st != 1 {
		t.Errorf("failing source: exit %d", st)
	}
	contains(t, "source error", errOut, bad+":2: run: bad duration \"five\"", "source: 1 of the lines of bad.txt failed")
}

// Ctrl-C, without a terminal: Interrupt from another goroutine.
func TestShellInterrupt(t *testing.T) {
	sh := newTestShell(t, "x86-4", 0)
	stop := func(after time.Duration) {
		go func() {
			time.Sleep(after)
			sh.Interrupt()
		}()
	}
	// A runaway chunk at operator level: the Lua stops, the machine is fine.
	stop(50 * time.Millisecond)
	contains(t, "runaway", sh.Exec("while true do end"), "input#1: interrupted")
	// A long run over a busy task: the run stops, the task goes on. The
	// first, gentle step of Ctrl-C stops it; waiting longer than
	// DefaultEscalate before the next keeps a loaded host from reaching
	// the second step, which would stop the task.
	sh.must(t, "spawn(2, 'spin', function() while true do udelay(1) end end)")
	sh.SetEscalate(10 * time.Second)
	stop(100 * time.Millisecond)
	contains(t, "long run", sh.Exec("run 100000s"), "run#3: interrupted at virtual time")
	contains(t, "task survives", sh.must(t, "cpus 2"), "spin-100 (busy-waits in udelay)")
	sh.must(t, "run 1ms")
	// The report replays the session (the interrupted run as far as it went).
	rep := filepath.Join(t.TempDir(), "r.lua")
	contains(t, "report", sh.must(t, "report "+rep), "it reproduces this session exactly")
	if st, out, errOut := xcallsh(t, "", "run", rep); st != 0 {
		t.Errorf("replay: exit %d\n%s%s", st, out, errOut)
	}
}
