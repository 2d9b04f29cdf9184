package shell

import (
	"strings"
	"testing"
)

// Under the native memory model the shell shows store visibility: a
// breakpoint on store_buffered stops at the delayed llist_add, its line
// names the stores, the csd, its function, the CPU that reads them and
// when they become visible; the next store_visible names the barrier
// (the GICv3 DSB, with its fix on) and the time it cut short.
func TestShellStoreEvents(t *testing.T) {
	sh := newTestShell(t, "arm64-8", 1)
	if err := sh.sess.K.SetMemory("native"); err != nil {
		t.Fatal(err)
	}
	sh.must(t, "fix('gicv3_dsb_before_sgi', true)")
	sh.must(t, "function greet(info) end")
	sh.must(t, "spawn(0, function() for i = 1, 3 do smp_call_function_single(5, greet, i, 1) end end)")
	sh.must(t, "break store_buffered")
	hit := sh.must(t, "continue")
	if !strings.Contains(hit, "store_buffered     llist_add csd=1 func=greet target=5 visible in ") {
		t.Fatalf("continue:\n%s", hit)
	}
	sh.must(t, "clear 1")
	sh.must(t, "break store_visible")
	hit = sh.must(t, "continue")
	if !strings.Contains(hit, "store_visible      llist_add csd=1 func=greet target=5 by dsb(ishst), ") || !strings.Contains(hit, " early\n") {
		t.Fatalf("continue:\n%s", hit)
	}
}
