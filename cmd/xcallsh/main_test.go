package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/child"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/shell"
)

// TestMain lets the test binary stand in for xcallsh itself (the terminal
// test runs it under tmux): with XCALLSH_TEST_MAIN=1 it is the command.
// The children that `run` and explore start are the test binary too.
func TestMain(m *testing.M) {
	if os.Getenv("XCALLSH_TEST_MAIN") == "1" {
		os.Exit(mainArgs(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	child.ExtraEnv = []string{"XCALLSH_TEST_MAIN=1"}
	os.Exit(m.Run())
}

// xcallsh runs the command line with stdin and returns its exit status,
// stdout and stderr.
func xcallsh(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	st := mainArgs(args, strings.NewReader(stdin), &out, &errOut)
	return st, out.String(), errOut.String()
}

// testShell is a shell whose output goes to one buffer.
type testShell struct {
	*shell.Shell
	buf bytes.Buffer
}

func newTestShell(t *testing.T, machine string, seed uint64) *testShell {
	t.Helper()
	ts := &testShell{}
	sh, err := shell.New(machine, machine != "x86-4", seed, &ts.buf, &ts.buf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sh.Close)
	ts.Shell = sh
	return ts
}

// Exec runs one line and returns what it printed.
func (ts *testShell) Exec(line string) string {
	ts.buf.Reset()
	ts.Shell.Exec(line)
	return ts.buf.String()
}

// must runs a line that must succeed.
func (ts *testShell) must(t *testing.T, line string) string {
	t.Helper()
	ts.buf.Reset()
	if err := ts.Shell.Exec(line); err != nil {
		t.Fatalf("%q: %v\n%s", line, err, ts.buf.String())
	}
	return ts.buf.String()
}

func contains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s: no %q in:\n%s", what, w, got)
		}
	}
}

func tempFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInternalErrorWritesACrashFile(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	var errOut bytes.Buffer
	if st := internalError(&errOut, "boom", []string{"run", "hello", "--seed", "3"}); st != exitFailed {
		t.Fatalf("exit %d", st)
	}
	msg := errOut.String()
	if !strings.Contains(msg, "internal error: boom") || !strings.Contains(msg, "This is a bug in xcallsh") {
		t.Fatalf("message:\n%s", msg)
	}
	i := strings.Index(msg, "is in ")
	path := strings.TrimSuffix(strings.Fields(msg[i+len("is in "):])[0], ".")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-- xcallsh crashed (a bug in xcallsh): boom", "-- command line: xcallsh run hello --seed 3", "local scenario = ", "greet"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("crash file lacks %q", want)
		}
	}
}
