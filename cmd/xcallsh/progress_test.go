package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xcallsh/xcallsh/emu"
)

// lockedBuffer is a buffer written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The progress line: drawn anew on each tick, erased before anything the
// run prints and when it stops.
func TestProgressLine(t *testing.T) {
	m := emu.New(emu.Config{CPUs: 1})
	defer m.Close()
	m.RunUntil(1_500_000_000)
	var w lockedBuffer
	p := newProgress(&w, 0, time.Millisecond)
	p.m.Store(m)
	for !strings.Contains(w.String(), "xcallsh: 1.500000000s virtual, ") {
		time.Sleep(time.Millisecond)
	}
	io.WriteString(p.Writer(&w), "printed\n")
	p.Stop()
	p.Stop() // twice is once
	got := w.String()
	line := regexp.MustCompile(`^(\r\x1b\[Kxcallsh: 1\.500000000s virtual, \d+\.\d s host \(Ctrl-C stops the run\))+\r\x1b\[Kprinted\n(\r\x1b\[Kxcallsh: [^\r]*)*(\r\x1b\[K)?$`)
	if !line.MatchString(got) {
		t.Errorf("progress output %q", got)
	}
	if strings.HasSuffix(got, ")") {
		t.Errorf("the line is not erased at the end: %q", got)
	}
	var nilp *progress // not a terminal: nothing at all
	if nilp.Writer(&w) != io.Writer(&w) || nilp.watch(nil) != nil {
		t.Error("a nil progress wraps")
	}
	nilp.Stop()
}

// A run with the progress line on (as on a terminal) prints the same
// stdout, and the same stderr once the progress line is taken out, as one
// without: the same summary line, trace hash included. Reading the clock
// changes nothing.
func TestRunProgressChangesNothing(t *testing.T) {
	script := "spawn(0, 'spinner', function() while true do smp_call_function_single(1, function() end, nil, 1); mdelay(1) end end)\n" +
		"for i = 1, 4 do run(ms(500)); print(i) end\n"
	run := func(progress bool) (int, string, string) {
		defer func(after, every time.Duration, term func(io.Writer) bool) {
			progressAfter, progressEvery, progressTerminal = after, every, term
		}(progressAfter, progressEvery, progressTerminal)
		progressAfter, progressEvery = 0, 100*time.Microsecond
		progressTerminal = func(io.Writer) bool { return progress }
		var out, errOut lockedBuffer
		st := runScript("spin.lua", script, runFlags{seed: 3, seedSet: true}, &out, &errOut)
		return st, out.String(), errOut.String()
	}
	st0, out0, err0 := run(false)
	st1, out1, err1 := run(true)
	drawn := regexp.MustCompile(`\r\x1b\[K(xcallsh: \d+\.\d{9}s virtual, \d+\.\d s host \(Ctrl-C stops the run\))?`)
	if !drawn.MatchString(err1) || !strings.Contains(err1, "s virtual, ") {
		t.Errorf("no progress line drawn: %q", err1)
	}
	if st0 != exitOK || st1 != st0 || out1 != out0 || drawn.ReplaceAllString(err1, "") != err0 {
		t.Errorf("with progress: exit %d, stdout %q, stderr %q\nwithout: exit %d, stdout %q, stderr %q", st1, out1, err1, st0, out0, err0)
	}
	if out0 != "1\n2\n3\n4\n" || !strings.Contains(err0, "2.000000000s virtual") {
		t.Errorf("the run: %q %q", out0, err0)
	}
}

// Ctrl-C during a run that advances virtual time: the summary line says
// where it stopped, the outcome is "interrupted", exit 130; the trace is
// written, a report is not (a replay could not stop where Ctrl-C did).
func TestRunInterruptSummary(t *testing.T) {
	needBackstop(t)
	dir := t.TempDir()
	script := tempFile(t, "spin.lua", "print('before')\n"+
		"spawn(0, 'spinner', function() while true do smp_call_function_single(1, function() end, nil, 1); mdelay(1) end end)\n"+
		"run(s(100000))\n")
	trace, rep := filepath.Join(dir, "t.txt"), filepath.Join(dir, "r.lua")
	cmd, out, errOut := xcallshProcess(t, "run", script, "--trace", trace, "--report", rep)
	if line, err := out.ReadString('\n'); line != "before\n" {
		t.Fatalf("stdout %q, %v", line, err)
	}
	time.Sleep(200 * time.Millisecond) // some virtual time
	cmd.Process.Signal(os.Interrupt)
	io.Copy(io.Discard, out)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Errorf("exit: %v", err)
	}
	want := regexp.MustCompile(`^` + regexp.QuoteMeta(script) + `:\d: stopped: interrupted
xcallsh: no report written to ` + regexp.QuoteMeta(rep) + `: the run was interrupted, and a replay would not stop where it did
xcallsh: x86-4 seed 0: \d+\.\d{9}s virtual, \d+ calls, \d+ IPIs, 0 reports, 0 warnings, outcome interrupted, trace [0-9a-f]{16}
$`)
	if !want.MatchString(errOut.String()) || strings.Contains(errOut.String(), " 0.000000000s virtual") {
		t.Errorf("stderr:\n%s", errOut.String())
	}
	if _, err := os.Stat(rep); !os.IsNotExist(err) {
		t.Errorf("a report was written: %v", err)
	}
	if b, err := os.ReadFile(trace); err != nil || !bytes.Contains(b, []byte("csd_function_exit")) {
		t.Errorf("trace: %v, %d bytes", err, len(b))
	}
}
