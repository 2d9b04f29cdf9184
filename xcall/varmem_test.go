package xcall

import (
	"testing"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
)

// bootSeed boots x86-4 with seed under memory model model.
func bootSeed(t *testing.T, model string, seed uint64) *Kernel {
	t.Helper()
	spec, err := machines.Builtin("x86-4")
	if err != nil {
		t.Fatal(err)
	}
	k, err := Boot(spec, seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	if err := k.SetMemory(model); err != nil {
		t.Fatal(err)
	}
	return k
}

var (
	keyX = varKey{"x", 0}
	keyY = varKey{"y", 0}
)

// sb runs the store-buffering shape on CPUs 0 and 1 (each stores 1 to its
// variable, optionally fences, and loads the other's) and returns the two
// loads.
func sb(t *testing.T, model string, seed uint64, fence bool) (r0, r1 int64) {
	k := bootSeed(t, model, seed)
	k.M.Spawn(0, "p0", func(c *emu.Context) {
		k.varStoreTo(0, keyX, 1)
		if fence {
			k.smpMB(0)
		}
		r0 = k.varLoad(0, keyY)
	})
	k.M.Spawn(1, "p1", func(c *emu.Context) {
		c.Delay(10, "work")
		k.varStoreTo(1, keyY, 1)
		if fence {
			k.smpMB(1)
		}
		r1 = k.varLoad(1, keyX)
	})
	k.M.RunUntil(1e6)
	return r0, r1
}

// Store buffering (the SB litmus shape): under native some seed lets both
// loads read 0, as x86-TSO allows; a full barrier on each side forbids it,
// and so do sequential consistency and seed 0 (nothing drawn).
func TestVarMemStoreBuffering(t *testing.T) {
	both := 0
	for seed := uint64(1); seed <= 30; seed++ {
		if r0, r1 := sb(t, machines.MemoryNative, seed, false); r0 == 0 && r1 == 0 {
			both++
		}
		if r0, r1 := sb(t, machines.MemoryNative, seed, true); r0 == 0 && r1 == 0 {
			t.Errorf("seed %d: both loads read 0 across smp_mb()", seed)
		}
		if r0, r1 := sb(t, machines.MemorySC, seed, false); r0 == 0 && r1 == 0 {
			t.Errorf("seed %d: both loads read 0 under sc", seed)
		}
	}
	if both == 0 {
		t.Error("native: no seed of 30 let both loads read 0")
	}
	if r0, r1 := sb(t, machines.MemoryNative, 0, false); r0 == 0 && r1 == 0 {
		t.Error("seed 0 delayed a store")
	}
}

// A CPU reads its own buffered stores at once (forwarding); another CPU
// sees them in program order (FIFO: never y's store without x's earlier
// one), all within the bound; a LOCKed add drains the buffer first.
func TestVarMemForwardingAndFIFO(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		k := bootSeed(t, machines.MemoryNative, seed)
		bound := k.storeBound()
		var own [2]int64
		seenY := false
		k.M.Spawn(0, "w", func(c *emu.Context) {
			k.varStoreTo(0, keyX, 1)
			k.varStoreTo(0, keyY, 1)
			own[0], own[1] = k.varLoad(0, keyX), k.varLoad(0, keyY)
		})
		k.M.Spawn(1, "r", func(c *emu.Context) {
			for i := int64(0); i <= bound/50+1; i++ {
				y, x := k.varLoad(1, keyY), k.varLoad(1, keyX)
				if y == 1 {
					seenY = true
					if x != 1 {
						t.Errorf("seed %d: y visible before x at %d", seed, k.M.Now())
					}
				}
				c.Delay(50, "poll")
			}
		})
		k.M.RunUntil(1e6)
		if own != [2]int64{1, 1} {
			t.Errorf("seed %d: own loads %v, want forwarding", seed, own)
		}
		if !seenY || k.varBuffered(0) {
			t.Errorf("seed %d: the stores were not visible within %d ns", seed, bound)
		}

		k = bootSeed(t, machines.MemoryNative, seed)
		var got int64
		k.M.Spawn(0, "w", func(c *emu.Context) {
			k.varStoreTo(0, keyX, 7)
			got = k.varAddReturn(0, keyY, 2)
			if k.varBuffered(0) || k.varVisible(keyX) != 7 {
				t.Errorf("seed %d: a LOCKed add left a store buffered", seed)
			}
		})
		k.M.RunUntil(1e6)
		if got != 2 {
			t.Errorf("seed %d: add returned %d", seed, got)
		}
	}
}
