package xcall

import (
	"testing"
	"unsafe"
)

// The per-CPU array keeps every element on a cache-line boundary, and the
// fields a cross-call touches on its target share the element's first
// line. Fields added after the hot ones change neither: the padding
// follows percpuData's size.
func TestPercpuLayout(t *testing.T) {
	var p percpu
	if got := unsafe.Sizeof(p); got%cacheLine != 0 {
		t.Errorf("percpu is %d bytes, not a multiple of %d", got, cacheLine)
	}
	if off := unsafe.Offsetof(p.percpuData); off != 0 {
		t.Errorf("percpuData at offset %d, not 0", off)
	}
	hot := []struct {
		name      string
		off, size uintptr
	}{
		{"queue", unsafe.Offsetof(p.queue), unsafe.Sizeof(p.queue)},
		{"qlen", unsafe.Offsetof(p.qlen), unsafe.Sizeof(p.qlen)},
		{"curCSD", unsafe.Offsetof(p.curCSD), unsafe.Sizeof(p.curCSD)},
		{"curFunc", unsafe.Offsetof(p.curFunc), unsafe.Sizeof(p.curFunc)},
		{"curInfo", unsafe.Offsetof(p.curInfo), unsafe.Sizeof(p.curInfo)},
		{"noBacktrace", unsafe.Offsetof(p.noBacktrace), unsafe.Sizeof(p.noBacktrace)},
	}
	for _, f := range hot {
		if end := f.off + f.size; end > cacheLine {
			t.Errorf("hot field %s ends at byte %d, past the first line", f.name, end)
		}
	}
}
