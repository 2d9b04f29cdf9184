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
