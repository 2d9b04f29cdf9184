package luapm

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/yuin/gopher-lua/pm"
)

// Find finds what gopher-lua's pm.Find finds.
func TestSameAsGopherLua(t *testing.T) {
	src := []byte("hello world, (nested (parens)) key=value 12 34 \x00 end")
	for _, p := range []string{"o", "%w+", "(%w+)=(%w+)", "()ll()", "^h", "%b()", "%d+$", "", "x*", "[%a_][%w_]*", "%f[%w]%w+", "(l)%1", "[^%s]+", ".-", "%z"} {
		for _, limit := range []int{-1, 0, 1, 3} {
			want, werr := pm.Find(p, src, 2, limit)
			got, gerr := Find(p, src, 2, limit, nil)
			if fmt.Sprint(werr) != fmt.Sprint(gerr) || len(got) != len(want) {
				t.Fatalf("%q limit %d: %v %d matches, want %v %d", p, limit, gerr, len(got), werr, len(want))
			}
			for i := range got {
				if got[i].CaptureLength() != want[i].CaptureLength() {
					t.Fatalf("%q: match %d has %d captures, want %d", p, i, got[i].CaptureLength(), want[i].CaptureLength())
				}
				for j := 0; j < got[i].CaptureLength(); j++ {
					if got[i].Capture(j) != want[i].Capture(j) || got[i].IsPosCapture(j) != want[i].IsPosCapture(j) {
						t.Fatalf("%q: match %d capture %d differs", p, i, j)
					}
				}
			}
		}
	}
}

// A closed channel stops a backtracking match soon.
func TestStop(t *testing.T) {
	stop := make(chan struct{})
	time.AfterFunc(50*time.Millisecond, func() { close(stop) })
	t0 := time.Now()
	_, err := Find(".-.-.-.-b", []byte(strings.Repeat("a", 10000)), 0, 1, stop)
	if err != ErrStopped {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("stopped after %v", d)
	}
}
