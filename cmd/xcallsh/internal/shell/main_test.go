package shell

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/machines"
)

// TestMain lets the test binary stand in for the shell (the terminal test
// runs it under tmux): with XCALLSH_TEST_MAIN=1 it is `xcallsh` on a
// terminal.
func TestMain(m *testing.M) {
	if os.Getenv("XCALLSH_TEST_MAIN") == "1" {
		os.Exit(Main(Options{Machine: machines.Default, Terminal: true}, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// pipe runs the shell on machine ("": the default) with stdin piped and
// returns its exit status, stdout and stderr.
func pipe(t *testing.T, stdin, machine string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	o := Options{Machine: machine, Forced: machine != ""}
	if machine == "" {
		o.Machine = machines.Default
	}
	st := Main(o, strings.NewReader(stdin), &out, &errOut)
	return st, out.String(), errOut.String()
}

// testShell is a shell whose output goes to one buffer.
type testShell struct {
	*Shell
	buf bytes.Buffer
}

func newTestShell(t *testing.T, machine string, seed uint64) *testShell {
	t.Helper()
	ts := &testShell{}
	sh, err := New(machine, machine != "x86-4", seed, &ts.buf, &ts.buf)
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
