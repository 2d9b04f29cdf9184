package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/child"
)

// A pattern that gopher-lua's matcher takes minutes over, inside one Go
// call: the in-process --timeout cannot stop it, the backstop does.
const slowPattern = `print("before")
local s = string.find(("a"):rep(10000), ".-.-.-.-b")
`

// A string that doubles until the memory runs out.
const doubling = `local s = "0123456789abcdef"
while true do s = s .. s end
`

func TestRunBackstopTimeout(t *testing.T) {
	needBackstop(t)
	script := tempFile(t, "slow.lua", slowPattern)
	// The pattern matcher checks the timeout itself, with the location.
	st, _, errOut := xcallsh(t, "", "run", script, "--timeout", "1s")
	if want := script + ":2: stopped: the run took longer than the --timeout of 1s (host time)\n"; st != exitFailed || !strings.HasPrefix(errOut, want) {
		t.Errorf("in-process: exit %d, stderr %q", st, errOut)
	}
	// Without it, the backstop.
	t.Setenv(child.EnvNoInProcess, "1")
	start := time.Now()
	st, out, errOut := xcallsh(t, "", "run", script, "--timeout", "2s")
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
	if st != exitFailed || out != "before\n" {
		t.Errorf("exit %d, stdout %q", st, out)
	}
	want := script + ": stopped: the run took longer than the --timeout of 2s (host time)\n" +
		"xcallsh: x86-4 seed 0: outcome limit (the run was stopped from outside: no trace)\n"
	if errOut != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, want)
	}
}

func TestRunBackstopMemory(t *testing.T) {
	needBackstop(t)
	script := tempFile(t, "big.lua", doubling)
	for _, backstopOnly := range []string{"1", "0"} {
		t.Setenv(child.EnvNoInProcess, backstopOnly)
		st, _, errOut := xcallsh(t, "", "run", script, "--memory-limit", "64MiB", "-m", "arm64-8", "--seed", "5")
		if st != exitFailed {
			t.Errorf("backstop only %s: exit %d", backstopOnly, st)
		}
		// The in-process check (outcome failed) or the backstop (outcome
		// limit), whichever comes first; the backstop when it is alone.
		want := "xcallsh: arm64-8 seed 5: "
		if backstopOnly == "1" {
			want += "outcome limit"
		}
		contains(t, "backstop only "+backstopOnly, errOut, "stopped: the run used more than 64 MiB of memory (the limit)\n", want)
	}
}

func TestRunChildFatalError(t *testing.T) {
	needBackstop(t)
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	t.Setenv(child.EnvFatal, "1")
	st, out, errOut := xcallsh(t, "", "run", "hello", "--seed", "2")
	if st != exitFailed || out != "" {
		t.Errorf("exit %d, stdout %q", st, out)
	}
	contains(t, "stderr", errOut, "xcallsh: the run's process died: fatal error: stack overflow\n",
		"This is a bug in xcallsh or a host limit", "xcallsh: x86-4 seed 2: outcome crashed\n")
	if n := strings.Count(errOut, "\n"); n > 6 || strings.Contains(errOut, "goroutine") {
		t.Errorf("%d lines on stderr:\n%s", n, errOut)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "xcallsh-crash-*.lua"))
	if len(files) != 1 {
		t.Fatalf("crash files: %v", files)
	}
	b, _ := os.ReadFile(files[0])
	contains(t, "crash file", string(b), "-- xcallsh crashed (a bug in xcallsh): fatal error: stack overflow\n",
		"-- command line: xcallsh run hello --seed 2\n", "goroutine stack exceeds 67108864-byte limit", "greet")
	if !strings.Contains(errOut, files[0]) {
		t.Errorf("stderr does not name %s", files[0])
	}
}

// xcallshProcess starts the test binary as xcallsh; its stdout is read as
// it comes.
func xcallshProcess(t *testing.T, args ...string) (*exec.Cmd, *bufio.Reader, *bytes.Buffer) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "XCALLSH_TEST_MAIN=1")
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewReader(out), &errOut
}

func TestRunInterrupt(t *testing.T) {
	needBackstop(t)
	for _, c := range []struct{ script, want string }{
		{"print(\"before\")\nwhile true do end\n", ":2: stopped: interrupted\nxcallsh: x86-4 seed 0: 0.000000000s virtual, 0 calls, 0 IPIs, 0 reports, 0 warnings, outcome interrupted, trace "},
		// A child that does not stop by itself (one stuck in a Go call; the
		// test knob makes a plain loop one): killed.
		{"print(\"before\")\nwhile true do end\n", ": stopped: interrupted\nxcallsh: x86-4 seed 0: outcome interrupted (the run was stopped from outside: no trace)\n"},
	} {
		script := tempFile(t, "loop.lua", c.script)
		if strings.Contains(c.want, "from outside") {
			t.Setenv(child.EnvNoInProcess, "1")
		}
		cmd, out, errOut := xcallshProcess(t, "run", script)
		// Once the script printed, it runs.
		line, err := out.ReadString('\n')
		if line != "before\n" {
			t.Fatalf("%q: stdout %q, %v", c.script, line, err)
		}
		cmd.Process.Signal(os.Interrupt)
		io.Copy(io.Discard, out) // all of it before Wait
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
			t.Errorf("%q: %v", c.script, err)
		}
		contains(t, "stderr", errOut.String(), script+c.want)
	}
}

func TestRunOutputWriteErrors(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--trace", "/dev/full"}, "xcallsh: writing the trace: write /dev/full: no space left on device\n"},
		{[]string{"--report", "/dev/full"}, "xcallsh: writing the report: write /dev/full: no space left on device\n"},
	} {
		st, _, errOut := xcallsh(t, "", append([]string{"run", "hello"}, c.args...)...)
		if st != exitFailed || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d:\n%s", c.args, st, errOut)
		}
	}
}

func TestRunOutputsOpenedAfterValidation(t *testing.T) {
	dir := t.TempDir()
	trace := filepath.Join(dir, "t.txt")
	rep := filepath.Join(dir, "r.lua")
	script := tempFile(t, "x.lua", "print(1)\n")
	inline := tempFile(t, "inline.lua", "machine([[\nname = \"bad\"\ncpus = 0\n]])\nprint(1)\n")
	for _, args := range [][]string{
		{"run", script, "-m", "no-such-machine", "--trace", trace, "--report", rep},
		{"run", inline, "--trace", trace, "--report", rep},
		{"run", filepath.Join(dir, "missing.lua"), "--trace", trace},
		{"run", script, "--seed", "x", "--trace", trace},
	} {
		os.WriteFile(trace, []byte("keep"), 0o644)
		os.WriteFile(rep, []byte("keep"), 0o644)
		st, _, errOut := xcallsh(t, "", args...)
		if st != exitBadArgs {
			t.Errorf("%v: exit %d, want 2:\n%s", args, st, errOut)
		}
		for _, f := range []string{trace, rep} {
			if b, _ := os.ReadFile(f); string(b) != "keep" {
				t.Errorf("%v: %s now holds %q", args, f, b)
			}
		}
	}
	// An output that cannot be written is a bad invocation, found first.
	st, _, errOut := xcallsh(t, "", "run", script, "--trace", filepath.Join(dir, "no", "t.txt"))
	if st != exitBadArgs || !strings.Contains(errOut, "xcallsh: --trace: open "+filepath.Join(dir, "no", "t.txt")+": no such file or directory") {
		t.Errorf("exit %d: %s", st, errOut)
	}
	// Checking that a new output can be written leaves no file behind.
	os.Remove(trace)
	if st, _, _ := xcallsh(t, "", "run", inline, "--trace", trace); st != exitBadArgs {
		t.Errorf("inline bad machine: exit %d", st)
	}
	if _, err := os.Stat(trace); err == nil {
		t.Error("the trace file was created")
	}
}

func TestInputSizeLimit(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	st, _, errOut := xcallsh(t, "", "run", "/dev/zero")
	if want := "xcallsh: reading script: /dev/zero is larger than the limit of 16 MiB\n"; st != exitBadArgs || errOut != want {
		t.Errorf("run: exit %d: %q", st, errOut)
	}
	st, _, errOut = xcallsh(t, "", "explore", "/dev/zero")
	if want := "xcallsh explore: reading script: /dev/zero is larger than the limit of 16 MiB\n"; st != exitBadArgs || errOut != want {
		t.Errorf("explore: exit %d: %q", st, errOut)
	}
	ts := newTestShell(t, "x86-4", 0)
	if got := ts.Exec("source /dev/zero"); !strings.Contains(got, "source: /dev/zero is larger than the limit of 16 MiB") {
		t.Errorf("source: %q", got)
	}
}

func TestExploreLimitsCostOneRunEach(t *testing.T) {
	needBackstop(t)
	slow := tempFile(t, "slow.lua", slowPattern)
	start := time.Now()
	t.Setenv(child.EnvNoInProcess, "1") // the pattern would stop itself
	st, out, _ := xcallsh(t, "", "explore", slow, "--runs", "2", "-j", "2", "--timeout", "1s", "--out", t.TempDir())
	os.Unsetenv(child.EnvNoInProcess)
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
	want := "failure 1: limit: stopped: the run took longer than the --timeout of 1s (host time)\n" +
		"  2 of 2 runs, first seed 1; not shrunk (a limit)\n" +
		"  no report: whether a run passes a limit depends on the host, not on the schedule\n" +
		"2 runs (random, shard 0/1), 2 failed, 1 distinct failures\n"
	if st != exitFailed || out != want {
		t.Errorf("exit %d:\n%s\nwant:\n%s", st, out, want)
	}

	// Half the seeds blow the memory up: each costs its run, a fresh worker
	// goes on with the next, and the others pass.
	// goes on with the next (and the ones sent ahead to the dead worker),
	// and the others pass: the same runs fail as when the in-process check
	// stops them.
	some := tempFile(t, "some.lua", "if math.random(2) == 1 then\n"+doubling+"end\n")
	var summaries []string
	for _, backstopOnly := range []string{"1", "0"} {
		t.Setenv(child.EnvNoInProcess, backstopOnly)
		st, out, _ = xcallsh(t, "", "explore", some, "--runs", "12", "-j", "1", "--memory-limit", "64MiB")
		if st != exitFailed || !strings.Contains(out, "limit: ") || !strings.Contains(out, "stopped: the run used more than 64 MiB of memory (the limit)\n") ||
			!strings.Contains(out, "12 runs (random, shard 0/1), ") || !strings.Contains(out, " 1 distinct failures\n") ||
			strings.Contains(out, " 0 failed") || strings.Contains(out, " 12 failed") {
			t.Errorf("backstop only %s: exit %d:\n%s", backstopOnly, st, out)
		}
		summaries = append(summaries, out[strings.LastIndex(out, "12 runs"):])
	}
	if summaries[0] != summaries[1] {
		t.Errorf("the backstop and the in-process check disagree:\n%s%s", summaries[0], summaries[1])
	}
	t.Setenv(child.EnvNoInProcess, "0")

	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	t.Setenv(child.EnvFatal, "1")
	st, out, errOut := xcallsh(t, "", "explore", "hello", "--runs", "3", "-j", "2")
	if st != exitFailed || !strings.Contains(out, "failure 1: limit: stopped: the run's process died: fatal error: stack overflow") ||
		!strings.Contains(out, "3 of 3 runs") {
		t.Errorf("exit %d:\n%s", st, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "xcallsh-crash-*.lua"))
	if len(files) != 1 || strings.Count(errOut, "a worker process died") != 1 || !strings.Contains(errOut, files[0]) {
		t.Errorf("crash files %v, stderr:\n%s", files, errOut)
	}
}

func TestFlagRanges(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"explore", "hello", "--runs", "0"}, "xcallsh explore: --runs 0 is out of range 1-1000000000\n"},
		{[]string{"explore", "hello", "--runs", "2000000000"}, "xcallsh explore: --runs 2000000000 is out of range 1-1000000000\n"},
		{[]string{"explore", "hello", "-j", "0"}, "xcallsh explore: -j 0 is out of range 1-256\n"},
		{[]string{"explore", "hello", "-j", "100000"}, "xcallsh explore: -j 100000 is out of range 1-256\n"},
		{[]string{"explore", "hello", "--depth", "0"}, "xcallsh explore: --depth 0 is out of range 1-100\n"},
		{[]string{"explore", "hello", "--depth", "101"}, "xcallsh explore: --depth 101 is out of range 1-100\n"},
		{[]string{"explore", "hello", "--shrink", "-1"}, "xcallsh explore: --shrink -1 is out of range 0-1000000\n"},
		{[]string{"explore", "hello", "--shrink", "1000001"}, "xcallsh explore: --shrink 1000001 is out of range 0-1000000\n"},
		{[]string{"explore", "hello", "--shard", "0/1000001"}, "xcallsh explore: bad --shard \"0/1000001\" (want I/N with 0 <= I < N <= 1000000)\n"},
		{[]string{"explore", "hello", "--first-seed", "18446744073709551615", "--runs", "2"},
			"xcallsh explore: --first-seed 18446744073709551615: the last seed of the shard (first seed + I + (runs-1)*N) passes the largest, 18446744073709551615\n"},
		{[]string{"explore", "hello", "--first-seed", "18446744073709551000", "--runs", "100", "--shard", "1/10"},
			"xcallsh explore: --first-seed 18446744073709551000: the last seed"},
		{[]string{"explore", "hello", "--first-seed", "-1"}, "bad seed \"-1\" (want an integer 0-18446744073709551615)"},
		{[]string{"explore", "hello", "--memory-limit", "1MiB"}, "1MiB is out of range 32MiB to 1024GiB (0: no limit)"},
		{[]string{"explore", "hello", "--memory-limit", "512"}, "bad size \"512\" (use e.g. 512MiB, 2GiB; 0: no limit)"},
		{[]string{"run", "hello", "--memory-limit", "2TiB"}, "2TiB is out of range 32MiB to 1024GiB (0: no limit)"},
		{[]string{"run", "hello", "--memory-limit", "2GB"}, "bad size \"2GB\": unit \"GB\" (use KiB, MiB, GiB or TiB)"},
		{[]string{"run", "hello", "--seed", "18446744073709551616"}, "bad seed \"18446744073709551616\" (want an integer 0-18446744073709551615)"},
		{[]string{"run", "hello", "--timeout", "9000h"}, "9000h is out of range 0 (no limit) to 8760h0m0s"},
		{[]string{"run", "hello", "--timeout", "-1s"}, "negative duration \"-1s\""},
		{[]string{"run", "hello", "--timeout", "5"}, "duration \"5\" needs a unit"},
		{[]string{"torture", "--nthreads", "100000000"}, "xcallsh torture: --nthreads 100000000 is out of range -1 to 8192\n"},
		{[]string{"torture", "--nthreads", "-2"}, "xcallsh torture: --nthreads -2 is out of range -1 to 8192\n"},
		{[]string{"torture", "--verbose", "10"}, "xcallsh torture: --verbose 10 is out of range 0-9\n"},
		{[]string{"torture", "--weight-single-rpc", "1000001"}, "xcallsh torture: --weight-single-rpc 1000001 is out of range -1 to 1000000\n"},
		{[]string{"torture", "--weight-all-wait", "-5"}, "xcallsh torture: --weight-all-wait -5 is out of range -1 to 1000000\n"},
		{[]string{"torture", "--duration", "10000000000"}, "invalid value \"10000000000\" for flag -duration: 10000000000 is out of range 0-31536000 (0 to 8760h0m0s)"},
		{[]string{"torture", "--duration", "9000h"}, "9000h is out of range 0 to 8760h0m0s"},
		{[]string{"torture", "--holdoff", "-1"}, "-1 is out of range 0-31536000"},
		{[]string{"torture", "--longwait", "40000000"}, "40000000 is out of range 0-31536000"},
		{[]string{"torture", "--onoff-holdoff", "40000000"}, "40000000 is out of range 0-31536000"},
		{[]string{"torture", "--onoff-interval", "40000000000000"}, "40000000000000 is out of range 0-31536000000 "},
		{[]string{"torture", "--shutdown-secs", "40000000"}, "40000000 is out of range 0-31536000"},
		{[]string{"torture", "--stat-interval", "40000000"}, "40000000 is out of range 0-31536000"},
		{[]string{"torture", "--stutter", "40000000000000"}, "40000000000000 is out of range 0-31536000000 "},
		{[]string{"torture", "--stall-timeout", "9000h"}, "xcallsh torture: --stall-timeout 9000h0m0s is out of range 0 to 8760h0m0s\n"},
		{[]string{"torture", "--seed", "-1"}, "invalid value \"-1\" for flag -seed"},
		{[]string{"bench", "--count", "0"}, "xcallsh bench: --count 0 is out of range 1-100\n"},
		{[]string{"bench", "--count", "101"}, "xcallsh bench: --count 101 is out of range 1-100\n"},
		{[]string{"bench", "--benchtime", "2m"}, "xcallsh bench: --benchtime 2m0s is out of range 1ns to 1m0s\n"},
	} {
		st, out, errOut := xcallsh(t, "", c.args...)
		if st != exitBadArgs || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s\nwant %q", c.args, st, out, errOut, c.want)
		}
	}
}

// 0 is 0 in every spelling: for --timeout, no limit.
func TestZeroDurations(t *testing.T) {
	for _, z := range []string{"0", "0s", "0ms", "0.0", "-0", "-0s"} {
		st, out, errOut := xcallsh(t, "", "run", "hello", "--timeout", z, "--quiet")
		if st != exitOK || !strings.Contains(out, "hello from CPU 1") {
			t.Errorf("--timeout %s: exit %d: %s", z, st, errOut)
		}
	}
	// The upper bounds are accepted.
	if st, _, errOut := xcallsh(t, "", "run", "hello", "--timeout", "8760h", "--memory-limit", "1TiB", "--seed", "18446744073709551615", "--quiet"); st != exitOK {
		t.Errorf("upper bounds: exit %d: %s", st, errOut)
	}
	if st, _, errOut := xcallsh(t, "", "explore", "hello", "--runs", "2", "-j", "1", "--first-seed", "18446744073709551614"); st != exitOK {
		t.Errorf("last seeds: exit %d: %s", st, errOut)
	}
}

func TestTortureOutputWriteError(t *testing.T) {
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full")
	}
	defer f.Close()
	var errOut bytes.Buffer
	if st := mainArgs([]string{"torture", "--duration", "1ms"}, nil, f, &errOut); st != exitFailed ||
		errOut.String() != "xcallsh torture: writing the output: write /dev/full: no space left on device\n" {
		t.Errorf("exit %d: %q", st, errOut.String())
	}
}

// More distinct failures than explore tells apart: the rest are counted
// together, the same in every run of the search.
func TestExploreBoundsDistinctFailures(t *testing.T) {
	many := tempFile(t, "many.lua", `error(("x"):rep(math.random(5000)))`)
	st, out, _ := xcallsh(t, "", "explore", many, "--runs", "2500", "-j", "2", "--shrink", "0")
	if st != exitFailed || !strings.Contains(out, "\nand 1107 more failed runs, of more distinct failures than the limit of 1000; the first, seed 1115: error: "+many+":1: xxx") ||
		!strings.HasSuffix(out, "\n2500 runs (random, shard 0/1), 2500 failed, 1000 distinct failures and more\n") {
		t.Errorf("exit %d:\n%s", st, out[max(0, len(out)-500):])
	}
}

// needBackstop skips a test of the child-process backstop where there is
// none: it needs Linux (internal/child), elsewhere runs stay in-process.
func needBackstop(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("the child-process backstop is Linux-only; this is %s", runtime.GOOS)
	}
}

// A refused machine() is a bad invocation (exit 2) only when it is what
// the script failed with: caught by pcall, the run goes on on the default
// machine, and a later failure is the script's own (exit 1).
func TestRunBadMachineCaught(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want int
		msg  string
	}{
		{"machine('no-such-machine')\n", exitBadArgs, ": machine: "},
		{"print(pcall(machine, 'no-such-machine'))\nerror('boom')\n", exitFailed, "caught.lua:2: boom"},
		{"local ok, e = pcall(machine, 'no-such-machine')\nerror(e, 0)\n", exitBadArgs, ": machine: "},
	} {
		st, _, errOut := xcallsh(t, "", "run", tempFile(t, "caught.lua", tc.src))
		if st != tc.want || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", tc.src, st, errOut, tc.want, tc.msg)
		}
	}
}
