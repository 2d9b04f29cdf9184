package memory

import (
	"math/rand/v2"
	"testing"
)

// sb is the store-buffering shape: each thread writes one location and
// reads the other, with an optional fence between.
func sb(fence bool) *Program {
	thread := func(w, r int) []Instr {
		code := []Instr{{Op: Store, Loc: w, Reg: -1, Val: Const(1), Guard: -1}}
		if fence {
			code = append(code, Instr{Op: Fence, Fence: FenceFull, Reg: -1, Guard: -1})
		}
		return append(code, Instr{Op: Load, Loc: r, Reg: 0, Guard: -1})
	}
	return &Program{Locs: []string{"x", "y"}, Init: []int64{0, 0},
		Threads: [][]Instr{thread(0, 1), thread(1, 0)}, Regs: []int{1, 1}}
}

// mp is message passing: P0 writes data then flag, P1 reads flag then
// data; fences optional on each side.
func mp(wfence, rfence FenceKind, fences bool) *Program {
	p0 := []Instr{{Op: Store, Loc: 0, Reg: -1, Val: Const(1), Guard: -1}}
	p1 := []Instr{{Op: Load, Loc: 1, Reg: 0, Guard: -1}}
	if fences {
		p0 = append(p0, Instr{Op: Fence, Fence: wfence, Reg: -1, Guard: -1})
		p1 = append(p1, Instr{Op: Fence, Fence: rfence, Reg: -1, Guard: -1})
	}
	p0 = append(p0, Instr{Op: Store, Loc: 1, Reg: -1, Val: Const(1), Guard: -1})
	p1 = append(p1, Instr{Op: Load, Loc: 0, Reg: 1, Guard: -1})
	return &Program{Locs: []string{"data", "flag"}, Init: []int64{0, 0},
		Threads: [][]Instr{p0, p1}, Regs: []int{0, 2}}
}

// seen reports whether some final state satisfies pred, over every
// execution.
func seen(t *testing.T, p *Program, m Model, pred func(*Final) bool) bool {
	t.Helper()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	finals, stuck, complete := Enumerate(p, m, 1<<20)
	if !complete || stuck != 0 {
		t.Fatalf("%v: complete %v, stuck %d", m, complete, stuck)
	}
	for i := range finals {
		if pred(&finals[i]) {
			return true
		}
	}
	return false
}

func TestSB(t *testing.T) {
	both0 := func(f *Final) bool { return f.Regs[0][0] == 0 && f.Regs[1][0] == 0 }
	for _, tc := range []struct {
		m     Model
		fence bool
		want  bool
	}{{SC, false, false}, {TSO, false, true}, {ARMv8, false, true}, {TSO, true, false}, {ARMv8, true, false}} {
		if got := seen(t, sb(tc.fence), tc.m, both0); got != tc.want {
			t.Errorf("SB fence=%v under %v: r0=0 /\\ r1=0 seen %v, want %v", tc.fence, tc.m, got, tc.want)
		}
	}
}

func TestMP(t *testing.T) {
	stale := func(f *Final) bool { return f.Regs[1][0] == 1 && f.Regs[1][1] == 0 }
	for _, tc := range []struct {
		m      Model
		fences bool
		w, r   FenceKind
		want   bool
	}{
		{SC, false, 0, 0, false}, {TSO, false, 0, 0, false}, {ARMv8, false, 0, 0, true},
		{ARMv8, true, FenceWrite, FenceRead, false}, {ARMv8, true, FenceWrite, FenceWrite, true},
		{ARMv8, true, FenceRead, FenceRead, true},
	} {
		if got := seen(t, mp(tc.w, tc.r, tc.fences), tc.m, stale); got != tc.want {
			t.Errorf("MP fences=%v %v/%v under %v: stale read seen %v, want %v", tc.fences, tc.w, tc.r, tc.m, got, tc.want)
		}
	}
}

// TestRunDeterministic: the same seed gives the same runs.
func TestRunDeterministic(t *testing.T) {
	p := sb(false)
	var a, b []string
	for _, out := range []*[]string{&a, &b} {
		rng := rand.New(rand.NewPCG(7, 0))
		for range 200 {
			f, ok := Run(p, ARMv8, rng)
			if !ok {
				t.Fatal("stuck")
			}
			*out = append(*out, f.Key())
		}
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("run %d: %s then %s", i, a[i], b[i])
		}
	}
}

func TestValidate(t *testing.T) {
	p := sb(false)
	p.Threads[0][0].Loc = 5
	if err := p.Validate(); err == nil {
		t.Error("a location out of range passed")
	}
}

func TestAddress(t *testing.T) {
	for i := range 3 {
		if l, ok := LocOf(Address(i), 3); !ok || l != i {
			t.Errorf("LocOf(Address(%d)) = %d, %v", i, l, ok)
		}
	}
	for _, v := range []int64{0, 1, Address(3), AddrBase - 1} {
		if _, ok := LocOf(v, 3); ok {
			t.Errorf("LocOf(%d, 3) is a location", v)
		}
	}
}

// mpAddr is message passing through a pointer: P0 writes data, then a
// pointer to it into p (which starts pointing at dummy); P1 reads p and
// then through it.
func mpAddr() *Program {
	const data, p, dummy = 0, 1, 2
	p0 := []Instr{
		{Op: Store, Loc: data, Reg: -1, Val: Const(1), Guard: -1},
		{Op: Store, Loc: p, Reg: -1, Val: Const(Address(data)), Guard: -1},
	}
	p1 := []Instr{
		{Op: Load, Loc: p, Reg: 0, Guard: -1},
		{Op: Load, Addr: RegRef(0), Reg: 1, Guard: -1},
	}
	return &Program{Locs: []string{"data", "p", "dummy"}, Init: []int64{0, Address(dummy), 0},
		Threads: [][]Instr{p0, p1}, Regs: []int{0, 2}}
}

// TestAddressDependency: under ARMv8 the read through the pointer waits
// for the pointer, so a stale read needs the writer's stores reordered
// (allowed); with DMB ISHST between them it is forbidden.
func TestAddressDependency(t *testing.T) {
	stale := func(f *Final) bool { return f.Regs[1][0] == Address(0) && f.Regs[1][1] == 0 }
	if !seen(t, mpAddr(), ARMv8, stale) {
		t.Error("MP+po+addr: stale read never seen under ARMv8")
	}
	p := mpAddr()
	p.Threads[0] = []Instr{p.Threads[0][0], {Op: Fence, Fence: FenceWrite, Reg: -1, Guard: -1}, p.Threads[0][1]}
	if seen(t, p, ARMv8, stale) {
		t.Error("MP+wmb+addr: stale read seen under ARMv8")
	}
}

// TestStuck: two locks taken in opposite orders can deadlock; such runs
// are reported, not hung.
func TestStuck(t *testing.T) {
	lock := func(l int) Instr {
		return Instr{Op: RMW, Loc: l, Reg: -1, Old: Const(0), Val: Const(1), Spin: true, Acquire: true, Guard: -1}
	}
	unlock := func(l int) Instr {
		return Instr{Op: Store, Loc: l, Reg: -1, Val: Const(0), Release: true, Guard: -1}
	}
	p := &Program{Locs: []string{"a", "b"}, Init: []int64{0, 0}, Regs: []int{0, 0},
		Threads: [][]Instr{{lock(0), lock(1), unlock(1), unlock(0)}, {lock(1), lock(0), unlock(0), unlock(1)}}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	finals, stuck, complete := Enumerate(p, ARMv8, 1<<16)
	if !complete || stuck == 0 || len(finals) != 1 {
		t.Errorf("complete %v, stuck %d, %d finals", complete, stuck, len(finals))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	n := 0
	for range 1000 {
		if _, ok := Run(p, TSO, rng); !ok {
			n++
		}
	}
	if n == 0 || n == 1000 {
		t.Errorf("%d of 1000 runs stuck", n)
	}
}

// TestSplitRMW: on ARMv8 an acquiring RMW that is not fully ordered
// performs its read, then its write (a load-exclusive and a
// store-exclusive): a later store may become visible before the RMW's
// write, as a critical section's store before the lock word's (the
// kernel's MP+polockonce+poacquiresilsil litmus test). x86's locked
// instruction, and a fully ordered RMW, stay one step. No other write to
// the location comes between the two halves: two increments always add 2.
func TestSplitRMW(t *testing.T) {
	lockThenStore := func(full bool) *Program {
		p0 := []Instr{
			{Op: RMW, Loc: 0, Reg: -1, Old: Const(0), Val: Const(1), Spin: true, Acquire: !full, Full: full, Guard: -1},
			{Op: Store, Loc: 1, Reg: -1, Val: Const(1), Guard: -1},
		}
		p1 := []Instr{
			{Op: Load, Loc: 1, Reg: 0, Acquire: true, Guard: -1},
			{Op: Load, Loc: 0, Reg: 1, Guard: -1},
		}
		return &Program{Locs: []string{"s", "x"}, Init: []int64{0, 0}, Threads: [][]Instr{p0, p1}, Regs: []int{0, 2}}
	}
	freeButSeen := func(f *Final) bool { return f.Regs[1][0] == 1 && f.Regs[1][1] == 0 }
	for _, tc := range []struct {
		m    Model
		full bool
		want bool
	}{
		{ARMv8, false, true}, {ARMv8, true, false}, {TSO, true, false}, {SC, false, false},
	} {
		if got := seen(t, lockThenStore(tc.full), tc.m, freeButSeen); got != tc.want {
			t.Errorf("%v, full %v: x=1 seen with the lock free: %v, want %v", tc.m, tc.full, got, tc.want)
		}
	}
	inc := func(other int) []Instr {
		return []Instr{
			{Op: RMW, Loc: 0, Reg: 0, Val: Const(1), Add: true, Guard: -1},
			{Op: Store, Loc: other, Reg: -1, Val: Const(1), Guard: -1},
			{Op: RMW, Loc: 0, Reg: 1, Val: Const(1), Add: true, Release: true, Guard: -1},
		}
	}
	p := &Program{Locs: []string{"n", "a", "b"}, Init: []int64{0, 0, 0}, Threads: [][]Instr{inc(1), inc(2)}, Regs: []int{2, 2}}
	if seen(t, p, ARMv8, func(f *Final) bool { return f.Mem[0] != 4 }) {
		t.Error("ARMv8: four increments of n lost one")
	}
	if !seen(t, p, ARMv8, func(f *Final) bool { return f.Regs[0][0] == 0 && f.Regs[1][0] == 1 }) ||
		!seen(t, p, ARMv8, func(f *Final) bool { return f.Regs[1][0] == 0 && f.Regs[0][0] == 1 }) {
		t.Error("ARMv8: either thread's first increment may come first")
	}
}
