package luabind

import (
	"context"
	"testing"
)

// The session's Lua context is its cancelable context with the Done
// channel kept: one channel, closed by cancel, and contexts derived from
// it (gopher-lua's per-thread ones) are cancelled with it at once, as
// children of a context.WithCancel context are, not by a goroutine later.
func TestLuaContext(t *testing.T) {
	ctx, cancel := newLuaContext(nil)
	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()
	d := ctx.Done()
	if ctx.Done() != d || ctx.Err() != nil {
		t.Fatal("Done changed, or Err before cancel")
	}
	cancel()
	select {
	case <-d:
	default:
		t.Fatal("Done not closed by cancel")
	}
	select {
	case <-child.Done():
	default:
		t.Fatal("a derived context was not cancelled with it")
	}
	if ctx.Err() != context.Canceled {
		t.Fatalf("Err = %v", ctx.Err())
	}
}
