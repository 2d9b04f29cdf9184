package xcall

import (
	"testing"
	"unsafe"
)

// The per-CPU data a cross-call touches on its target shares one cache
// line, and the size keeps every element of the per-CPU array on a line
// boundary.
func TestPercpuLayout(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the layout is laid out for 64-bit hosts")
	}
	var p percpu
	if got := unsafe.Sizeof(p); got%64 != 0 {
		t.Errorf("percpu is %d bytes, not a multiple of 64", got)
	}
	if end := unsafe.Offsetof(p.noBacktrace) + unsafe.Sizeof(p.noBacktrace); end > 64 {
		t.Errorf("percpu's hot fields end at byte %d, past the first line", end)
	}
}
