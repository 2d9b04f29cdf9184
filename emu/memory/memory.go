// Package memory runs small concurrent programs, the threads of a litmus
// test, under a hardware memory model: sequential consistency (SC),
// x86-TSO, or an operational ARMv8 model. It knows nothing about the
// kernel: the program is already in the machine's own terms (loads,
// stores, atomic read-modify-writes, fences), and mapping the kernel's
// macros (READ_ONCE, smp_mb, ...) onto it is the caller's job.
//
// All three models share one engine. Each thread's instructions stay in
// program order in a window; an instruction performs (a load reads, a
// store becomes visible to every other thread at once, an RMW does both
// atomically) when the model's ordering rule lets it overtake the
// program-order-earlier instructions that have not performed yet. A load
// that overtakes an earlier store to its own location reads that store's
// value (store forwarding), so a thread sees its own writes before the
// others do. Memory itself is one array: a write reaches every other
// thread at the same instant, which is what ARMv8's other-multi-copy
// atomicity and x86-TSO both promise.
//
//   - SC: nothing overtakes anything: an interleaving of the threads.
//   - TSO: a load may overtake earlier plain stores, nothing else: the
//     not-yet-performed stores of a thread are exactly x86-TSO's FIFO
//     store buffer, a full fence (MFENCE) waits for it to drain, and an
//     RMW (a locked instruction) drains it and orders everything.
//   - ARMv8: accesses overtake each other unless a dependency, a barrier
//     (DMB ISH, DMB ISHLD, DMB ISHST), acquire/release semantics, a
//     control dependency to a write, or same-location coherence orders
//     them; loads run speculatively past unresolved branches.
//
// docs/memory.md describes the models, what they cover and what they
// leave out.
package memory

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Model is a hardware memory model.
type Model int

const (
	SC    Model = iota // sequential consistency
	TSO                // x86-TSO
	ARMv8              // ARMv8, other-multi-copy-atomic
)

func (m Model) String() string {
	switch m {
	case SC:
		return "SC"
	case TSO:
		return "x86-TSO"
	case ARMv8:
		return "ARMv8"
	}
	return fmt.Sprintf("Model(%d)", int(m))
}

// Op is what an instruction does.
type Op uint8

const (
	Load   Op = iota // Reg = [Loc]
	Store            // [Loc] = Val
	RMW              // Reg = [Loc]; [Loc] = Val, if Old is nil or [Loc] == Old, atomically
	Fence            // orders accesses, by Fence kind
	Assign           // Reg = Val, a local computation
	Cond             // evaluates Val; the instructions guarded by it run if it is nonzero (Sense true) or zero (Sense false)
)

// FenceKind is the kind of a Fence.
type FenceKind uint8

const (
	FenceFull  FenceKind = iota // every earlier access before every later one (MFENCE, DMB ISH)
	FenceRead                   // earlier loads before every later access (DMB ISHLD)
	FenceWrite                  // earlier stores before later stores (DMB ISHST)
)

// Instr is one instruction of a thread.
type Instr struct {
	Op  Op
	Loc int // the location accessed (Load, Store, RMW), unless Addr is set
	// Addr, when set, computes the location accessed from registers (an
	// address dependency): its value must be Address(loc) of a location.
	Addr *Expr
	Reg  int // the register written (Load, RMW, Assign); -1 for none
	Val  *Expr
	// Old is an RMW's expected value: the store happens only when memory
	// holds it (cmpxchg). nil: always (xchg).
	Old *Expr
	// Unless turns Old around: the store happens only when memory does
	// not hold Old (atomic_add_unless).
	Unless bool
	// Spin makes an RMW wait until memory holds Old, then succeed: a lock
	// acquisition.
	Spin bool
	// Add makes an RMW write the old value plus Val (an atomic add)
	// instead of Val.
	Add bool
	// Acquire: a load or RMW whose read orders every later access after
	// it (LDAR). Release: a store or RMW whose write is ordered after every
	// earlier access (STLR). Full: an RMW ordered, when it succeeds, after
	// every earlier access and before every later one. A failed RMW is a
	// read only, keeping only Acquire.
	Acquire, Release, Full bool
	Fence                  FenceKind
	// Guard is the index of the Cond this instruction runs under (-1:
	// none), Sense the value of the condition it needs. Only
	// instructions after their Cond may name it.
	Guard int
	Sense bool
}

// ExprOp is an expression node's operator.
type ExprOp uint8

const (
	EConst ExprOp = iota
	EReg
	EAdd
	ESub
	EMul
	EAnd
	EOr
	EXor
	EEq
	ENe
	ELt
	ELe
	EGt
	EGe
	ELAnd
	ELOr
	ENot
	ENeg
)

// Expr is an expression over a thread's registers.
type Expr struct {
	Op   ExprOp
	K    int64 // EConst
	Reg  int   // EReg
	A, B *Expr
}

// Const is the constant k.
func Const(k int64) *Expr { return &Expr{Op: EConst, K: k} }

// RegRef is the value of register r.
func RegRef(r int) *Expr { return &Expr{Op: EReg, Reg: r} }

// Bin is a op b (ENot and ENeg take a only).
func Bin(op ExprOp, a, b *Expr) *Expr { return &Expr{Op: op, A: a, B: b} }

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (e *Expr) eval(reg func(int) (int64, bool)) (int64, bool) {
	switch e.Op {
	case EConst:
		return e.K, true
	case EReg:
		return reg(e.Reg)
	case ENot, ENeg:
		a, ok := e.A.eval(reg)
		if e.Op == ENot {
			return b2i(a == 0), ok
		}
		return -a, ok
	}
	a, oka := e.A.eval(reg)
	b, okb := e.B.eval(reg)
	if !oka || !okb {
		return 0, false
	}
	switch e.Op {
	case EAdd:
		return a + b, true
	case ESub:
		return a - b, true
	case EMul:
		return a * b, true
	case EAnd:
		return a & b, true
	case EOr:
		return a | b, true
	case EXor:
		return a ^ b, true
	case EEq:
		return b2i(a == b), true
	case ENe:
		return b2i(a != b), true
	case ELt:
		return b2i(a < b), true
	case ELe:
		return b2i(a <= b), true
	case EGt:
		return b2i(a > b), true
	case EGe:
		return b2i(a >= b), true
	case ELAnd:
		return b2i(a != 0 && b != 0), true
	case ELOr:
		return b2i(a != 0 || b != 0), true
	}
	return 0, false
}

// AddrBase is the address of location 0: the value Address(i) a register
// holds when it points to location i. It is far from the small integers
// litmus tests store, so that a pointer is never mistaken for one.
const AddrBase = 1 << 40

// Address is the value of a pointer to location loc.
func Address(loc int) int64 { return AddrBase + int64(loc) }

// LocOf is the location that the pointer v points to, if it is one of n.
func LocOf(v int64, n int) (int, bool) {
	if v < AddrBase || v >= AddrBase+int64(n) {
		return 0, false
	}
	return int(v - AddrBase), true
}

// Program is a litmus test's threads over shared locations.
type Program struct {
	Locs    []string  // location names, for messages
	Init    []int64   // initial value of each location
	Threads [][]Instr // the instructions of each thread, in program order
	Regs    []int     // how many registers each thread has (all start at 0)
}

// Validate checks indices: locations, registers and guards in range.
func (p *Program) Validate() error {
	if len(p.Init) != len(p.Locs) || len(p.Regs) != len(p.Threads) {
		return fmt.Errorf("memory: %d locations with %d initial values, %d threads with %d register counts",
			len(p.Locs), len(p.Init), len(p.Threads), len(p.Regs))
	}
	for t, code := range p.Threads {
		var checkExpr func(e *Expr) error
		checkExpr = func(e *Expr) error {
			if e == nil {
				return nil
			}
			if e.Op == EReg && (e.Reg < 0 || e.Reg >= p.Regs[t]) {
				return fmt.Errorf("memory: thread %d: register %d out of range", t, e.Reg)
			}
			if err := checkExpr(e.A); err != nil {
				return err
			}
			return checkExpr(e.B)
		}
		for i, in := range code {
			bad := func(what string) error { return fmt.Errorf("memory: thread %d instruction %d: %s", t, i, what) }
			switch in.Op {
			case Load, Store, RMW:
				if in.Addr == nil && (in.Loc < 0 || in.Loc >= len(p.Locs)) {
					return bad("location out of range")
				}
			}
			switch in.Op {
			case Load, RMW, Assign:
				if in.Reg < -1 || in.Reg >= p.Regs[t] {
					return bad("register out of range")
				}
			}
			switch in.Op {
			case Store, RMW, Assign, Cond:
				if in.Val == nil {
					return bad("no value")
				}
			}
			if in.Spin && in.Old == nil {
				return bad("a spinning RMW needs Old")
			}
			if in.Unless && (in.Old == nil || in.Spin) {
				return bad("an Unless RMW needs Old and does not spin")
			}
			if in.Add && (in.Op != RMW || in.Old != nil && !in.Unless) {
				return bad("only an RMW without Old, or an Unless one, adds")
			}
			if in.Guard >= i || in.Guard < -1 || (in.Guard >= 0 && code[in.Guard].Op != Cond) {
				return bad("guard is not an earlier Cond")
			}
			if err := checkExpr(in.Val); err != nil {
				return err
			}
			if err := checkExpr(in.Old); err != nil {
				return err
			}
			if err := checkExpr(in.Addr); err != nil {
				return err
			}
		}
	}
	return nil
}

// Final is the state a run ends in.
type Final struct {
	Regs [][]int64 // each thread's registers
	Mem  []int64   // each location
}

// Key is the state as one comparable string.
func (f *Final) Key() string {
	var b strings.Builder
	for _, r := range f.Regs {
		fmt.Fprint(&b, r, ";")
	}
	fmt.Fprint(&b, f.Mem)
	return b.String()
}

// instruction states
const (
	pending byte = iota
	done
	skipped
	// half: an ARMv8 RMW that is not fully ordered has read but not yet
	// written (split reports which RMWs do this).
	half byte = 4
)

// split reports whether in performs in two steps under m, its read then
// its write, as ARMv8's load-exclusive and store-exclusive (or the read
// and write events of an LSE atomic) do: its acquire orders what follows
// after the read, its release orders the write after what precedes, and
// the write may become visible after later accesses of the thread. No
// other write to the location comes between the two (ARMv8's atomicity
// axiom): while one RMW is half done, no other thread's store or RMW to
// its location may perform. A fully ordered RMW stays one step.
func split(m Model, in *Instr) bool { return m == ARMv8 && in.Op == RMW && !in.Full }

// state is a run in progress.
type state struct {
	p     *Program
	m     Model
	mem   []int64
	st    [][]byte  // per thread, per instruction: pending, done, skipped, half
	val   [][]int64 // a done instruction's result (the value read; a Cond's value)
	ok    [][]bool  // a done RMW succeeded (it wrote)
	steps int
}

func newState(p *Program, m Model) *state {
	s := &state{p: p, m: m, mem: slices.Clone(p.Init)}
	for _, code := range p.Threads {
		s.st = append(s.st, make([]byte, len(code)))
		s.val = append(s.val, make([]int64, len(code)))
		s.ok = append(s.ok, make([]bool, len(code)))
	}
	return s
}

func (s *state) clone() *state {
	c := &state{p: s.p, m: s.m, mem: slices.Clone(s.mem), steps: s.steps}
	for t := range s.st {
		c.st = append(c.st, slices.Clone(s.st[t]))
		c.val = append(c.val, slices.Clone(s.val[t]))
		c.ok = append(c.ok, slices.Clone(s.ok[t]))
	}
	return c
}

// guard reports whether instruction i of thread t is known to run
// (known, taken).
func (s *state) guard(t, i int) (known, taken bool) {
	in := &s.p.Threads[t][i]
	if in.Guard < 0 {
		return true, true
	}
	switch s.st[t][in.Guard] {
	case skipped:
		return true, false
	case done:
		return true, (s.val[t][in.Guard] != 0) == in.Sense
	}
	return false, false
}

// reg is register r's value as instruction i of thread t sees it: the
// result of the last instruction before i that writes r and runs.
func (s *state) reg(t, i, r int) (int64, bool) {
	code := s.p.Threads[t]
	for j := i - 1; j >= 0; j-- {
		in := &code[j]
		if in.Reg != r || (in.Op != Load && in.Op != RMW && in.Op != Assign) {
			continue
		}
		switch s.st[t][j] {
		case skipped:
			continue
		case done, half:
			if known, taken := s.guard(t, j); !known {
				return 0, false
			} else if !taken {
				continue
			}
			return s.val[t][j], true
		}
		return 0, false
	}
	return 0, true
}

func (s *state) eval(t, i int, e *Expr) (int64, bool) {
	return e.eval(func(r int) (int64, bool) { return s.reg(t, i, r) })
}

// settle does the local work that needs no choice: instructions whose
// guard turned out false are skipped, Assign and Cond run as soon as their
// inputs are known.
func (s *state) settle() {
	for changed := true; changed; {
		changed = false
		for t, code := range s.p.Threads {
			for i := range code {
				in := &code[i]
				known, taken := s.guard(t, i)
				if known && !taken && s.st[t][i] != skipped {
					s.st[t][i] = skipped
					changed = true
					continue
				}
				if s.st[t][i] != pending || !known || (in.Op != Assign && in.Op != Cond) {
					continue
				}
				if v, ok := s.eval(t, i, in.Val); ok {
					s.st[t][i], s.val[t][i] = done, v
					changed = true
				}
			}
		}
	}
}

func isRead(in *Instr) bool { return in.Op == Load || in.Op == RMW }

func isWrite(in *Instr) bool { return in.Op == Store || in.Op == RMW }

// waits reports whether b (which would succeed, as an RMW, if wins) must
// wait for the earlier, not performed instruction a under model m. aLoc
// and bLoc are the locations they access, -1 for an address not known
// yet (which may be any location).
func waits(m Model, a, b *Instr, aLoc, bLoc int, wins bool) bool {
	if a.Op == Assign {
		return false
	}
	if a.Op == Cond {
		// A control dependency orders later writes; every later fence
		// waits too, so that a fence in a branch is not passed early.
		return isWrite(b) || b.Op == Fence
	}
	switch m {
	case SC:
		return true
	case TSO:
		// Only a load may pass earlier plain stores: the store buffer. A
		// conditional RMW that gives up is only a plain load (x86 reads
		// the value, sees it must not add, and issues no locked
		// instruction).
		return !(a.Op == Store && (b.Op == Load || b.Op == RMW && b.Unless && !wins))
	}
	// ARMv8.
	if a.Op == Fence {
		switch a.Fence {
		case FenceFull, FenceRead:
			return true
		}
		return isWrite(b) || b.Op == Fence
	}
	if b.Op == Fence {
		switch b.Fence {
		case FenceFull:
			return true
		case FenceRead:
			return isRead(a)
		}
		return isWrite(a)
	}
	if a.Acquire || a.Full {
		return true
	}
	if (b.Release && isWrite(b) && (b.Op == Store || wins)) || (b.Full && wins) {
		return true
	}
	if a.Release && b.Acquire && isRead(b) {
		return true
	}
	if aLoc == bLoc || aLoc < 0 || bLoc < 0 {
		// Coherence: same-location accesses in program order, but a load
		// may read an earlier store of its own thread (forwarding).
		return !(a.Op == Store && b.Op == Load)
	}
	return false
}

// action is one instruction that may perform now.
type action struct{ t, i int }

// enabled lists what may perform now, in (thread, index) order.
func (s *state) enabled(out []action) []action {
	out = out[:0]
	for t, code := range s.p.Threads {
		for i := range code {
			if (s.st[t][i] == pending || s.st[t][i] == half) && code[i].Op != Assign && code[i].Op != Cond && s.ready(t, i) {
				out = append(out, action{t, i})
			}
		}
	}
	return out
}

// ready reports whether instruction i of thread t may perform now.
func (s *state) ready(t, i int) bool {
	code := s.p.Threads[t]
	b := &code[i]
	if s.st[t][i] == half {
		return s.readyWrite(t, i)
	}
	known, taken := s.guard(t, i)
	if !known && (b.Op != Load || s.m != ARMv8) {
		return false // only loads speculate, and only on ARMv8
	}
	if known && !taken {
		return false
	}
	wins := true
	if b.Op == RMW {
		cur, ok := s.readValue(t, i)
		if !ok {
			return false
		}
		if b.Old != nil {
			old, ok := s.eval(t, i, b.Old)
			if !ok {
				return false
			}
			wins = (cur == old) != b.Unless
			if b.Spin && !wins {
				return false
			}
		}
		if v, ok := s.eval(t, i, b.Val); !ok {
			_ = v
			return false
		}
	}
	if b.Op == Store {
		if _, ok := s.eval(t, i, b.Val); !ok {
			return false
		}
	}
	bLoc := -1
	if isRead(b) || isWrite(b) {
		l, ok := s.loc(t, i)
		if !ok {
			return false // the address is not known yet, or is no location
		}
		bLoc = l
	}
	if isWrite(b) && s.reserved(t, bLoc) {
		return false
	}
	// A split RMW's first step is its read: ordered as a load (an
	// acquiring one for an acquire RMW) that does not forward.
	isSplit := split(s.m, b)
	if isSplit {
		b = &Instr{Op: Load, Acquire: b.Acquire}
	}
	for j := i - 1; j >= 0; j-- {
		a, aLoc, ok := s.earlier(t, j)
		if !ok {
			continue
		}
		if isSplit && isWrite(a) && (aLoc == bLoc || aLoc < 0) {
			return false
		}
		if waits(s.m, a, b, aLoc, bLoc, wins) {
			return false
		}
	}
	if isRead(b) {
		if _, ok := s.readValue(t, i); !ok {
			return false
		}
	}
	return true
}

// earlier is instruction j of thread t as a later instruction of the
// thread must wait for it, with the location it accesses (-1: not known
// yet); ok is false when it has performed. A half-done RMW is its write
// still to come, a store (a releasing one for a release RMW).
func (s *state) earlier(t, j int) (a *Instr, loc int, ok bool) {
	a = &s.p.Threads[t][j]
	switch s.st[t][j] {
	case pending:
	case half:
		a = &Instr{Op: Store, Release: a.Release}
	default:
		return nil, 0, false
	}
	loc = -1
	if isRead(a) || isWrite(a) {
		if l, ok := s.loc(t, j); ok {
			loc = l
		}
	}
	return a, loc, true
}

// reserved reports whether another thread than t has an RMW half done on
// loc: no write to loc may come between its read and its write.
func (s *state) reserved(t, loc int) bool {
	for u, code := range s.p.Threads {
		if u == t {
			continue
		}
		for j := range code {
			if s.st[u][j] == half {
				if l, _ := s.loc(u, j); l == loc {
					return true
				}
			}
		}
	}
	return false
}

// readyWrite reports whether the write of the half-done RMW i of thread t
// may perform now: it is ordered as a store (a releasing one for a
// release RMW) after the earlier instructions of its thread.
func (s *state) readyWrite(t, i int) bool {
	in := &s.p.Threads[t][i]
	if _, ok := s.eval(t, i, in.Val); !ok {
		return false
	}
	loc, _ := s.loc(t, i)
	b := &Instr{Op: Store, Release: in.Release}
	for j := i - 1; j >= 0; j-- {
		a, aLoc, ok := s.earlier(t, j)
		if ok && waits(s.m, a, b, aLoc, loc, true) {
			return false
		}
	}
	return true
}

// readValue is what a read by instruction i of thread t would get now:
// the latest earlier store of its thread to the location if that one has
// not performed (forwarding), else memory.
func (s *state) readValue(t, i int) (int64, bool) {
	code := s.p.Threads[t]
	loc, ok := s.loc(t, i)
	if !ok {
		return 0, false
	}
	for j := i - 1; j >= 0; j-- {
		a := &code[j]
		if !isWrite(a) || s.st[t][j] == skipped {
			continue
		}
		if known, taken := s.guard(t, j); !known {
			return 0, false
		} else if !taken {
			continue
		}
		if l, ok := s.loc(t, j); !ok {
			return 0, false // an earlier store to a location not known yet
		} else if l != loc {
			continue
		}
		if s.st[t][j] == done {
			break
		}
		if a.Op != Store {
			return 0, false
		}
		return s.eval(t, j, a.Val)
	}
	return s.mem[loc], true
}

// loc is the location instruction i of thread t accesses: ok is false
// while its address is not known, or when it is no location.
func (s *state) loc(t, i int) (int, bool) {
	in := &s.p.Threads[t][i]
	if in.Addr == nil {
		return in.Loc, true
	}
	v, ok := s.eval(t, i, in.Addr)
	if !ok {
		return 0, false
	}
	return LocOf(v, len(s.mem))
}

// perform executes instruction i of thread t, which is ready.
func (s *state) perform(t, i int) {
	in := &s.p.Threads[t][i]
	loc, _ := s.loc(t, i)
	switch in.Op {
	case Load:
		s.val[t][i], _ = s.readValue(t, i)
	case Store:
		s.mem[loc], _ = s.eval(t, i, in.Val)
	case RMW:
		if s.st[t][i] == half {
			// The write of a split RMW.
			v, _ := s.eval(t, i, in.Val)
			if in.Add {
				v += s.val[t][i]
			}
			s.mem[loc] = v
			break
		}
		cur := s.mem[loc]
		s.val[t][i] = cur
		win := true
		if in.Old != nil {
			old, _ := s.eval(t, i, in.Old)
			win = (cur == old) != in.Unless
		}
		s.ok[t][i] = win
		if win && split(s.m, in) {
			s.st[t][i] = half
			s.steps++
			return
		}
		if win {
			v, _ := s.eval(t, i, in.Val)
			if in.Add {
				v += cur
			}
			s.mem[loc] = v
		}
	}
	s.st[t][i] = done
	s.steps++
}

func (s *state) finished() bool {
	for t := range s.st {
		for _, x := range s.st[t] {
			if x == pending || x == half {
				return false
			}
		}
	}
	return true
}

func (s *state) final() Final {
	f := Final{Mem: slices.Clone(s.mem)}
	for t, code := range s.p.Threads {
		regs := make([]int64, s.p.Regs[t])
		for r := range regs {
			regs[r], _ = s.reg(t, len(code), r)
		}
		f.Regs = append(f.Regs, regs)
	}
	return f
}

// Run runs p once under m, taking every choice (which ready instruction
// performs next) from rng, uniformly. ok is false when the run got stuck
// (a lock never released): no instruction could perform, yet some had not.
func Run(p *Program, m Model, rng *rand.Rand) (f Final, ok bool) {
	r := NewRunner(p, m)
	ok = r.Run(rng)
	return r.Final(), ok
}

// Runner runs one program many times, reusing its memory.
type Runner struct {
	s    *state
	acts []action
	f    Final
}

// NewRunner prepares runs of p under m.
func NewRunner(p *Program, m Model) *Runner {
	r := &Runner{s: newState(p, m), f: Final{Mem: make([]int64, len(p.Locs))}}
	for t := range p.Threads {
		r.f.Regs = append(r.f.Regs, make([]int64, p.Regs[t]))
	}
	return r
}

// Run is one run, as the function Run does; Final is where it ended.
func (r *Runner) Run(rng *rand.Rand) (ok bool) {
	s := r.s
	copy(s.mem, s.p.Init)
	for t := range s.st {
		clear(s.st[t])
		clear(s.val[t])
		clear(s.ok[t])
	}
	s.steps = 0
	for {
		s.settle()
		r.acts = s.enabled(r.acts)
		if len(r.acts) == 0 {
			break
		}
		a := r.acts[rng.IntN(len(r.acts))]
		s.perform(a.t, a.i)
	}
	return s.finished()
}

// Final is the state the last run ended in; the Runner's own, valid until
// the next run.
func (r *Runner) Final() Final {
	s := r.s
	copy(r.f.Mem, s.mem)
	for t, code := range s.p.Threads {
		for reg := range r.f.Regs[t] {
			r.f.Regs[t][reg], _ = s.reg(t, len(code), reg)
		}
	}
	return r.f
}

// Enumerate explores every choice of p under m, visiting each distinct
// state once, and returns the distinct final states in the order of their
// keys; stuck counts the distinct stuck states. It gives up, complete
// false, after visiting limit states.
func Enumerate(p *Program, m Model, limit int) (finals []Final, stuck int, complete bool) {
	seen := map[string]bool{}
	byKey := map[string]Final{}
	var keys []string
	// visit marks s seen, reporting whether it is new; every state on the
	// stack has been counted, so the stack never outgrows limit.
	visit := func(s *state) bool {
		s.settle()
		k := s.key()
		if seen[k] {
			return false
		}
		seen[k] = true
		return true
	}
	start := newState(p, m)
	visit(start)
	stack := []*state{start}
	var acts []action
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		acts = s.enabled(acts)
		if len(acts) == 0 {
			if !s.finished() {
				stuck++
				continue
			}
			f := s.final()
			fk := f.Key()
			if _, dup := byKey[fk]; !dup {
				byKey[fk] = f
				keys = append(keys, fk)
			}
			continue
		}
		for _, a := range acts {
			c := s.clone()
			c.perform(a.t, a.i)
			if visit(c) {
				if len(seen) > limit {
					return nil, 0, false
				}
				stack = append(stack, c)
			}
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		finals = append(finals, byKey[k])
	}
	return finals, stuck, true
}

// key is the state as a string: memory, and each instruction's state and
// result, packed.
func (s *state) key() string {
	b := make([]byte, 0, 64)
	for _, v := range s.mem {
		b = binary.AppendVarint(b, v)
	}
	for t := range s.st {
		for i, x := range s.st[t] {
			if x == done && s.ok[t][i] {
				x = 3
			}
			b = append(b, x)
			if x == done || x == 3 || x == half {
				b = binary.AppendVarint(b, s.val[t][i])
			}
		}
	}
	return string(b)
}
