package emu

import (
	"testing"
	"unsafe"
)

// The hot fields of a Context and of a CPU share their first cache line,
// and the sizes keep every Context and every element of a []CPU on a line
// boundary (performance.md). A field added in the wrong place fails here.
func TestLayout(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the layout is laid out for 64-bit hosts")
	}
	var c Context
	if got := unsafe.Sizeof(c); got != 192 {
		t.Errorf("Context is %d bytes, want 192 (a size class whose objects start on a line)", got)
	}
	if end := unsafe.Offsetof(c.vector) + unsafe.Sizeof(c.vector); end > 64 {
		t.Errorf("Context's hot fields end at byte %d, past the first line", end)
	}
	var cpu CPU
	if got := unsafe.Sizeof(cpu); got != 128 {
		t.Errorf("CPU is %d bytes, want 128", got)
	}
	if end := unsafe.Offsetof(cpu.runq) + unsafe.Sizeof(cpu.runq); end > 64 {
		t.Errorf("CPU's hot fields end at byte %d, past the first line", end)
	}
}
