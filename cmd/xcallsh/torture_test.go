package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xcallsh/xcallsh/scftorture"
)

func TestTortureCLI(t *testing.T) {
	var out, errb bytes.Buffer
	st := mainArgs([]string{"torture", "--duration", "300ms", "--onoff-interval", "20", "--stat-interval", "100ms"}, nil, &out, &errb)
	if st != exitOK || !strings.Contains(out.String(), "End of test: SUCCESS") {
		t.Fatalf("exit %d\n%s%s", st, out.String(), errb.String())
	}
	if first, _, _ := strings.Cut(out.String(), "\n"); first != "xcallsh torture: seed 0; run it again with: "+
		"xcallsh torture -m x86-4 --seed 0 --duration=300ms --onoff-interval=20 --stat-interval=100ms" {
		t.Errorf("first line %q", first)
	}
	m := regexp.MustCompile(`scf_invoked_count VER: (\d+) .* onoff: (\d+)/\d+:(\d+)/\d+ `).FindStringSubmatch(out.String())
	if m == nil || m[1] == "0" || m[2] == "0" || m[3] == "0" {
		t.Errorf("no invocations or no hotplug: %v", m)
	}
	if !regexp.MustCompile(`(?m)^xcallsh torture: [\d.]+ s virtual, \d+ handler invocations in [\d.]+ s host: \d+ invocations per host second$`).MatchString(out.String()) {
		t.Errorf("no speed line:\n%s", out.String())
	}
	out.Reset()
	if st := mainArgs([]string{"torture", "--duration", "2s", "--onoff-interval", "5", "--stutter", "0", "--fix", "dying_flush=off"}, nil, &out, &errb); st != exitFailed {
		t.Errorf("dying_flush off: exit %d, want 1\n%s", st, out.String())
	}
	for _, args := range [][]string{{"torture", "--bogus"}, {"torture", "--fix", "x"}, {"torture", "--ipi-drop", "9:1"}, {"torture", "-m", "vax"}} {
		if st := mainArgs(args, nil, &out, &errb); st != exitBadArgs {
			t.Errorf("%v: exit %d, want 2", args, st)
		}
	}
}

// The speed line: virtual time to the nanosecond, host time to the
// millisecond, the rate rounded; "n/a" if the host took no time at all.
func TestTortureSpeedLine(t *testing.T) {
	r := &scftorture.Result{VirtualTime: 1_000_402_771, Invocations: 1509810}
	if got, want := speedLine(r, 2010*time.Millisecond), "xcallsh torture: 1.000402771 s virtual, 1509810 handler invocations in 2.010 s host: 751149 invocations per host second"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := speedLine(r, 0); !strings.HasSuffix(got, "in 0.000 s host: n/a invocations per host second") {
		t.Errorf("no host time: %q", got)
	}
}

// The first line's command, pasted into a shell, runs the same test: it
// parses to the same parameters, machine and seed, with the quoting a
// shell undoes.
func TestTortureRerunLine(t *testing.T) {
	for _, args := range [][]string{
		{"--seed", "7", "-m", "arm64-8", "--duration", "2s", "--fix", "dying_flush=off", "--fix", "csd_lock_fix=on", "--use-cpus-read-lock", "--stutter=0"},
		{"--onoff-interval", "20", "--machine=x86-xapic-8", "--ipi-drop", "1:3", "--trace", "my trace.txt"},
		{},
	} {
		a, _, _, err := parseTorture(args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		machine := a.machine
		if machine == "" {
			machine = "x86-4"
		}
		line := a.rerunLine(machine)
		prefix := fmt.Sprintf("xcallsh torture: seed %d; run it again with: xcallsh torture ", a.seed)
		if !strings.HasPrefix(line, prefix) {
			t.Fatalf("%q", line)
		}
		again, _, _, err := parseTorture(shellWords(t, strings.TrimPrefix(line, prefix)), io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if again.p != a.p || again.seed != a.seed || again.machine != machine || again.trace != a.trace ||
			again.fixes.String() != a.fixes.String() || again.drops.String() != a.drops.String() {
			t.Errorf("%v: %s runs another test", args, line)
		}
	}
	for in, want := range map[string]string{"--fix=a=on": "--fix=a=on", "my trace.txt": "'my trace.txt'", "it's": `'it'\''s'`, "": "''"} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// shellWords splits a command line as a POSIX shell does with the quoting
// shellQuote writes (single quotes, and '\” for a quote).
func shellWords(t *testing.T, s string) []string {
	var words []string
	var w strings.Builder
	in, started := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case in && c == '\'':
			in = false
		case in:
			w.WriteByte(c)
		case c == '\'':
			in, started = true, true
		case c == '\\' && i+1 < len(s):
			i++
			w.WriteByte(s[i])
			started = true
		case c == ' ':
			if started {
				words = append(words, w.String())
				w.Reset()
				started = false
			}
		default:
			w.WriteByte(c)
			started = true
		}
	}
	if in {
		t.Fatalf("unterminated quote in %q", s)
	}
	if started {
		words = append(words, w.String())
	}
	return words
}

// chunkWriter keeps each write apart.
type chunkWriter struct{ chunks []string }

func (c *chunkWriter) Write(p []byte) (int, error) {
	c.chunks = append(c.chunks, string(p))
	return len(p), nil
}

// The statistics lines come as the module prints them, each before the
// run goes on, not all at the end: the first one is written before
// anything of the end of the test.
func TestTortureStreams(t *testing.T) {
	var w chunkWriter
	if st := mainArgs([]string{"torture", "--duration", "300ms", "--stat-interval", "100ms"}, nil, &w, io.Discard); st != exitOK {
		t.Fatalf("exit %d", st)
	}
	stat, end := -1, -1
	for i, c := range w.chunks {
		if stat < 0 && strings.Contains(c, "scf_invoked_count ver:") {
			stat = i
		}
		if end < 0 && strings.Contains(c, "End of test") {
			end = i
		}
	}
	if stat < 0 || end < 0 || stat >= end || strings.Contains(w.chunks[stat], "VER:") {
		t.Errorf("first statistics in write %d, the end in write %d, of %d", stat, end, len(w.chunks))
	}
}

// torture --trace and --report: the same module output as without; the
// trace is run's; the report replays with `xcallsh run`, a success and a
// failure alike.
func TestTortureReportReplays(t *testing.T) {
	dir := t.TempDir()
	for i, args := range [][]string{
		{"--duration", "100ms", "--onoff-interval", "20", "--stat-interval", "50ms"},
		{"--duration", "100ms", "--ipi-drop", "1:1", "-m", "arm64-8", "--seed", "3"},
	} {
		status := []int{exitOK, exitFailed}[i]
		rep, trace := filepath.Join(dir, fmt.Sprintf("r%d.lua", i)), filepath.Join(dir, fmt.Sprintf("t%d.txt", i))
		st, plain, _ := xcallsh(t, "", append([]string{"torture"}, args...)...)
		if st != status {
			t.Fatalf("%v: exit %d\n%s", args, st, plain)
		}
		st, recorded, errOut := xcallsh(t, "", append([]string{"torture", "--report", rep, "--trace", trace}, args...)...)
		if st != status {
			t.Fatalf("%v --report: exit %d\n%s%s", args, st, recorded, errOut)
		}
		module := func(out string) string { // the module's lines
			var keep []string
			for _, l := range strings.SplitAfter(out, "\n") {
				if strings.HasPrefix(l, "[") {
					keep = append(keep, l)
				}
			}
			return strings.Join(keep, "")
		}
		if module(plain) == "" || module(recorded) != module(plain) {
			t.Errorf("%v: the module's output differs with --report:\n%s\nwithout:\n%s", args, recorded, plain)
		}
		kind := []string{"ok", "failed"}[i]
		if !regexp.MustCompile(`(?m)^xcallsh: \S+ seed \d+: .* outcome ` + kind + `, trace [0-9a-f]{16}$`).MatchString(errOut) {
			t.Errorf("%v: no summary line:\n%s", args, errOut)
		}
		b, err := os.ReadFile(trace)
		if err != nil || !strings.HasPrefix(string(b), "# tracer: nop") || !strings.Contains(string(b), "csd_function_entry") {
			t.Errorf("%v: trace: %v\n%.300s", args, err, b)
		}
		text, _ := os.ReadFile(rep)
		contains(t, "report", string(text), "--! outcome: "+kind+"\n", "\ntorture(", "-- Made by `xcallsh torture -m ")
		st, out, errOut := xcallsh(t, "", "run", rep)
		if st != exitOK || !strings.Contains(out, "reproduced: outcome "+kind) || module(out) != module(plain) {
			t.Errorf("%v: replay: exit %d\n%s%s", args, st, out, errOut)
		}
	}
}

// The torture(...) binding takes the module's flags only, once, at top
// level.
func TestTortureBinding(t *testing.T) {
	for script, want := range map[string]string{
		`torture("--seed=3")`:         "torture: --seed is the run's, not the module's",
		`torture("-m", "x86-4")`:      "torture: -m is the run's",
		`torture("--bogus")`:          "torture: flag provided but not defined: -bogus",
		`torture("--nthreads=99999")`: "torture: --nthreads 99999 is out of range -1 to 8192",
		`torture("--ipi-drop=9:1")`:   "torture: bad --ipi-drop",
		`torture("x")`:                `torture: unexpected argument "x"`,
		`torture("--duration=0")`:     "torture: no end",
		`torture("--weight-resched=0", "--weight-single=0", "--weight-single-rpc=0", "--weight-single-wait=0", "--weight-many=0", "--weight-many-wait=0", "--weight-all=0", "--weight-all-wait=0")`: "all zero weights",
		`spawn(0, function() torture("--duration=1ms") end) run(ms(1))`: "torture: only at top level",
		`torture("--duration=10ms") torture("--duration=10ms")`:         "torture: once per run",
	} {
		st, _, errOut := xcallsh(t, "", "run", tempFile(t, "t.lua", script+"\n"))
		if st != exitFailed || !strings.Contains(errOut, want) {
			t.Errorf("%s: exit %d, want %q in:\n%s", script, st, want, errOut)
		}
	}
	st, out, errOut := xcallsh(t, "", "run", tempFile(t, "t.lua", `print(torture("--duration=20ms", "--nthreads=2"))`+"\n"))
	if st != exitOK || !strings.HasSuffix(out, "End of test: SUCCESS:  verbose=0 holdoff=0 longwait=0 nthreads=2 onoff_holdoff=0 onoff_interval=0 shutdown_secs=0 stat_interval=60 stutter=5 use_cpus_read_lock=0, weight_resched=-1, weight_single=-1, weight_single_rpc=-1, weight_single_wait=-1, weight_many=-1, weight_many_wait=-1, weight_all=-1, weight_all_wait=-1\nSUCCESS\n") {
		t.Errorf("exit %d\n%s%s", st, out, errOut)
	}
}

// Ctrl-C stops torture where it is: no verdict, exit 130.
func TestTortureInterrupt(t *testing.T) {
	cmd, out, errOut := xcallshProcess(t, "torture", "--duration", "1000s")
	if line, err := out.ReadString('\n'); !strings.HasPrefix(line, "xcallsh torture: seed 0;") {
		t.Fatalf("stdout %q, %v", line, err)
	}
	time.Sleep(100 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	rest, _ := io.ReadAll(out)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Errorf("exit: %v", err)
	}
	if !regexp.MustCompile(`^xcallsh torture: interrupted (before the boot|at \d+\.\d{9}s virtual) \(Ctrl-C\), with no verdict\n$`).MatchString(errOut.String()) ||
		strings.Contains(string(rest), "End of test") {
		t.Errorf("stderr %q, stdout:\n%s", errOut.String(), rest)
	}
}
