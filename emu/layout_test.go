package emu

import (
	"reflect"
	"testing"
	"unsafe"
)

// lineSize is the cache line the layouts are made for.
const lineSize = 64

// heapContexts makes the Contexts TestLayout allocates escape to the heap.
var heapContexts []*Context

// hotEnd is the end, in bytes, of the fields of struct type t declared
// before the field named first (the first of the cold ones).
func hotEnd(t *testing.T, typ reflect.Type, first string) uintptr {
	t.Helper()
	var end uintptr
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if f.Name == first {
			return end
		}
		end = max(end, f.Offset+f.Type.Size())
	}
	t.Fatalf("%s has no field %s", typ, first)
	return 0
}

// The fields every event reads or writes share the first cache line of a
// Context and of a CPU, and both sizes are whole lines, so that every
// Context (an allocation whose size class is a multiple of the line) and
// every element of a []CPU starts on a line boundary (docs/performance.md).
// A field may be added anywhere as long as these still hold.
func TestLayout(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the layout is laid out for 64-bit hosts")
	}
	if end := hotEnd(t, reflect.TypeFor[Context](), "Wait"); end > lineSize {
		t.Errorf("Context's hot fields (those before Wait) end at byte %d, past the first line", end)
	}
	if size := unsafe.Sizeof(Context{}); size%lineSize != 0 {
		t.Errorf("Context is %d bytes, not a whole number of %d-byte lines", size, lineSize)
	}
	// What the size is for: a Context on the heap starts on a line.
	for i := 0; i < 16; i++ {
		c := new(Context)
		heapContexts = append(heapContexts, c) // escapes: not on the stack
		if p := uintptr(unsafe.Pointer(c)); p%lineSize != 0 {
			t.Errorf("a Context allocated at %#x, not on a line boundary", p)
			break
		}
	}
	if end := hotEnd(t, reflect.TypeFor[CPU](), "pending"); end > lineSize {
		t.Errorf("CPU's hot fields (those before pending) end at byte %d, past the first line", end)
	}
	if size := unsafe.Sizeof(CPU{}); size%lineSize != 0 {
		t.Errorf("CPU is %d bytes, not a whole number of %d-byte lines", size, lineSize)
	}
}
