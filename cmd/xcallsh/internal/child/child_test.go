package child

import (
	"bytes"
	"os"
	"testing"
)

func TestExitFatalLine(t *testing.T) {
	for _, c := range []struct {
		e       Exit
		crashed bool
		line    string
	}{
		{Exit{Code: 2, Runtime: []byte("runtime: goroutine stack exceeds 67108864-byte limit\nruntime: sp=0x1\nfatal error: stack overflow\n\ngoroutine 1 [running]:\n")},
			true, "fatal error: stack overflow"},
		{Exit{Code: 2, Runtime: []byte("panic: boom\n\ngoroutine 7 [running]:\n")}, true, "panic: boom"},
		{Exit{Code: 2, Runtime: []byte("\nsomething odd\n")}, true, "something odd"},
		{Exit{Code: -1, Signal: "segmentation fault"}, true, "killed by signal segmentation fault"},
		{Exit{Code: -1, Signal: "broken pipe"}, false, "killed by signal broken pipe"},
		{Exit{Code: 2}, false, "exit status 2"}, // a bad invocation, said by the child itself
		{Exit{Code: -1, Signal: "killed", Killed: KilledTimeout}, false, "killed by signal killed"},
	} {
		if got := c.e.Crashed(); got != c.crashed {
			t.Errorf("%+v: crashed %v", c.e, got)
		}
		if got := c.e.FatalLine(); got != c.line {
			t.Errorf("%+v: %q, want %q", c.e, got, c.line)
		}
	}
	oom := Exit{Code: 2, Runtime: []byte("fatal error: runtime: out of memory\n")}
	if !oom.OutOfMemory() || (Exit{Code: 2, Runtime: []byte("fatal error: stack overflow")}).OutOfMemory() {
		t.Error("OutOfMemory")
	}
}

func TestMarginAndRSS(t *testing.T) {
	if m := Margin(2 << 30); m != 512<<20+64<<20 {
		t.Errorf("margin of 2 GiB: %d MiB", m>>20)
	}
	if !supported {
		return // RSS reads Linux's /proc
	}
	rss, ok := RSS(os.Getpid())
	if !ok || rss < 1<<20 || rss > 1<<40 {
		t.Errorf("own RSS %d %v", rss, ok)
	}
	if _, ok := RSS(-5); ok {
		t.Error("RSS of no process")
	}
}

func TestCappedKeepsTheFirstBytes(t *testing.T) {
	var c capped
	c.n = 5
	c.b = new(bytes.Buffer)
	c.Write([]byte("abc"))
	c.Write([]byte("defg"))
	if n, _ := c.Write([]byte("xyz")); n != 3 || c.b.String() != "abcde" {
		t.Errorf("%q", c.b.String())
	}
}
