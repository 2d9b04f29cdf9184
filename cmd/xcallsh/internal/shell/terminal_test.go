package shell

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTerminal drives the shell in a real terminal, under tmux: Tab
// completion, an empty line repeating the last command, Ctrl-C on a runaway
// chunk, and the history file. It is skipped where tmux is not installed.
func TestTerminal(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not on PATH")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	cfg := t.TempDir()
	sock := fmt.Sprintf("xcallsh-test-%d", os.Getpid())
	tm := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(tmux, append([]string{"-L", sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %q: %v\n%s", args, err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { exec.Command(tmux, "-L", sock, "kill-server").Run() })
	start := exec.Command(tmux, "-L", sock, "-f", "/dev/null", "new-session", "-d", "-s", "x", "-x", "120", "-y", "50",
		fmt.Sprintf("env XCALLSH_TEST_MAIN=1 XDG_CONFIG_HOME='%s' TERM=xterm '%s'", cfg, exe))
	if out, err := start.CombinedOutput(); err != nil {
		t.Skipf("tmux cannot start a session here: %v\n%s", err, out)
	}
	screen := ""
	waitFor := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(30 * time.Millisecond) {
			screen = tm("capture-pane", "-p", "-t", "x")
			if strings.Contains(screen, what) {
				return
			}
		}
		t.Fatalf("no %q on the screen:\n%s", what, screen)
	}
	keys := func(k ...string) { tm(append([]string{"send-keys", "-t", "x"}, k...)...) }

	waitFor("xcallsh>") // capture-pane trims trailing blanks
	keys("timel", "Tab")
	waitFor("xcallsh> timeline")
	keys("C-u", "param csd_lock_t", "Tab", "Enter")
	waitFor("csd_lock_timeout   5000 ms")
	keys("x = string.for", "Tab")
	waitFor("xcallsh> x = string.format")
	keys("C-u")

	keys("run 1ms", "Enter")
	waitFor("virtual time 0.001000000s")
	keys("Enter") // repeats only step, next and continue
	keys("x = {", "Enter")
	waitFor(">>")
	keys("C-c") // cancels the continuation line
	keys("now()", "Enter")
	waitFor("\n1000000\n")
	if strings.Contains(screen, "error") || strings.Contains(screen, "0.002000000s") {
		t.Errorf("Enter repeated run, or Ctrl-C on >> ran the line:\n%s", screen)
	}

	keys("while true do end", "Enter")
	time.Sleep(200 * time.Millisecond)
	keys("C-c")
	waitFor("input#3: interrupted")
	keys("print(6*7)", "Enter")
	waitFor("\n42\n")

	keys("on 1 while true do end", "Enter")
	time.Sleep(200 * time.Millisecond)
	keys("C-c")
	waitFor("stopped the machine")
	keys("run 1ms", "Enter")
	waitFor("the session is over")
	keys("C-d")

	hist := filepath.Join(cfg, "xcallsh", "history")
	var data []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(30 * time.Millisecond) {
		if data, err = os.ReadFile(hist); err == nil && strings.Contains(string(data), "print(6*7)") {
			break
		}
	}
	contains(t, "history", string(data), "param csd_lock_timeout\n", "run 1ms\n", "while true do end\n", "now()\n", "print(6*7)\n")
	fi, err := os.Stat(hist)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("history mode %v, want 0600", fi.Mode().Perm())
	}
}
