package shell

import (
	"io"
	"strings"
	"testing"
	"time"
)

// FuzzShellLine: any input line, command or Lua, gives output or an error
// message, never an internal error (a Go panic), and never hangs (a
// watchdog presses Ctrl-C after 3 s, as a user would).
func FuzzShellLine(f *testing.F) {
	for _, s := range []string{
		"help", "help on", "cpus 0-2", "on 1 return smp_processor_id()", "on 9 x", "run 10us", "run -1s",
		"stall 2 1ms", "stall 9 1s", "offline 2", "online 2", "offline 0", "param csd_lock_timeout 10",
		"param nope 1", "drop 1 3", "drop x", "fix dying_flush off", "fix nope on", "dmesg 3", "trace",
		"timeline all", "boot arm64-8", "boot nope", "source /nonexistent", "report /dev/null/x",
		"1 + 1", "x = {", "spawn(0, function() mdelay(1) end)", "run(ms(1))", "on 0 while true do end",
		"spawn(0, function() smp_call_function_single(1, function() end, nil, 1) end)\nb csd_function_entry cpu=1\nc\nbt\nqueue 1\ncsd 1\nipis\ns 3\nback 2\nrc\ngoto #3\nn\nx = 1",
		"b @1ms\nc\ngoto 10us\nrestart", "b printk if info.text:find('x')\nc 1s", "info cpus", "cpu 2", "p now()", "cpu", "bot x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		t.Chdir(t.TempDir()) // a command that writes a file writes it there
		sh, err := New("x86-4", false, 0, io.Discard, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		defer sh.Close()
		for _, line := range strings.Split(input, "\n") {
			if cmd, args, ok := lookupCommand(strings.TrimSpace(line)); ok &&
				(cmd.name == "report" || cmd.name == "source" || cmd.name == "trace" && args != "") {
				continue // these touch files: covered by their own tests
			}
			watchdog := time.AfterFunc(3*time.Second, sh.Interrupt)
			err := sh.Exec(line)
			watchdog.Stop()
			if err != nil && strings.Contains(err.Error(), "internal error") {
				t.Fatalf("%q: %v", line, err)
			}
		}
	})
}
