package litmus

import (
	"fmt"
	"slices"
	"strings"

	"github.com/xcallsh/xcallsh/emu/memory"
)

// Compiled is a test mapped onto one architecture's instructions.
type Compiled struct {
	Prog *memory.Program
	// regNames are each thread's register names, declared ones first
	// (the hidden ones that hold a read inside an expression follow).
	regNames [][]string
	// observed are the atoms of the condition, in herd7's order: threads'
	// registers by thread and name, then locations by name.
	observed []observed
	// filtered are the atoms only the filter clause names: evaluated,
	// never shown.
	filtered []observed
}

type observed struct {
	thread int // -1: a location
	name   string
	index  int // register or location index
}

func (o observed) String() string {
	if o.thread < 0 {
		return o.name
	}
	return fmt.Sprintf("%d:%s", o.thread, o.name)
}

// compiler maps one thread.
type compiler struct {
	t      *Test
	x86    bool
	locs   map[string]int
	thread int
	params []string
	regs   map[string]int
	names  []string
	code   []memory.Instr
	guard  int
	sense  bool
}

// Compile maps the kernel's macros in t onto x86 (x86 true) or arm64
// instructions, as the kernel's asm/barrier.h, asm/cmpxchg.h and
// spinlocks do on that architecture.
func Compile(t *Test, x86 bool) (*Compiled, error) {
	prog := &memory.Program{}
	locs := map[string]int{}
	addLoc := func(name string, v int64) {
		if _, ok := locs[name]; !ok {
			locs[name] = len(prog.Locs)
			prog.Locs = append(prog.Locs, name)
			prog.Init = append(prog.Init, v)
		}
	}
	for _, it := range t.Init {
		addLoc(it.name, it.val)
	}
	for _, th := range t.Threads {
		for _, name := range th.Params {
			addLoc(name, 0)
		}
	}
	for _, it := range t.Init {
		if it.ref != "" {
			addLoc(it.ref, 0) // as herd7 does, a location of its own
			prog.Init[locs[it.name]] = memory.Address(locs[it.ref])
		}
	}
	c := &Compiled{Prog: prog}
	for _, th := range t.Threads {
		cc := &compiler{t: t, x86: x86, locs: locs, thread: th.N, params: th.Params, regs: map[string]int{}, guard: -1, sense: true}
		if err := cc.stmts(th.Body); err != nil {
			return nil, err
		}
		prog.Threads = append(prog.Threads, cc.code)
		prog.Regs = append(prog.Regs, len(cc.names))
		c.regNames = append(c.regNames, cc.names)
	}
	if err := prog.Validate(); err != nil {
		return nil, &Error{t.File, t.Threads[0].Line, err.Error()}
	}
	for _, q := range t.Locations {
		if err := c.observe(t, q, locs, &c.observed); err != nil {
			return nil, err
		}
	}
	if err := c.observe(t, t.Cond.P, locs, &c.observed); err != nil {
		return nil, err
	}
	if t.Filter != nil {
		if err := c.observe(t, t.Filter, locs, &c.filtered); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(c.observed, func(a, b observed) int {
		if a.thread != b.thread {
			if a.thread < 0 || b.thread < 0 {
				return b.thread - a.thread // locations last
			}
			return a.thread - b.thread
		}
		return strings.Compare(a.name, b.name)
	})
	return c, nil
}

// observe checks the condition's atoms and lists each once, in into.
func (c *Compiled) observe(t *Test, q *Prop, locs map[string]int, into *[]observed) error {
	switch q.Op {
	case "atom":
		o := observed{thread: q.Thread, name: q.Name}
		if q.Thread < 0 {
			i, ok := locs[q.Name]
			if !ok {
				return &Error{t.File, q.Line, fmt.Sprintf("the condition names %s, which is no location of the test", q.Name)}
			}
			o.index = i
		} else {
			if q.Thread >= len(t.Threads) {
				return &Error{t.File, q.Line, fmt.Sprintf("the condition names thread %d, but the test has %d", q.Thread, len(t.Threads))}
			}
			i := slices.Index(c.regNames[q.Thread], q.Name)
			if i < 0 || strings.HasPrefix(q.Name, "$") {
				return &Error{t.File, q.Line, fmt.Sprintf("the condition names %d:%s, but P%d declares no register %s", q.Thread, q.Name, q.Thread, q.Name)}
			}
			o.index = i
		}
		if q.Ref != "" {
			l, ok := locs[q.Ref]
			if !ok {
				return &Error{t.File, q.Line, fmt.Sprintf("the condition compares with %s, which is no location of the test", q.Ref)}
			}
			q.Val = memory.Address(l)
		}
		if !slices.ContainsFunc(*into, func(x observed) bool { return x.thread == o.thread && x.name == o.name }) {
			*into = append(*into, o)
		}
	case "~":
		return c.observe(t, q.A, locs, into)
	case `/\`, `\/`:
		if err := c.observe(t, q.A, locs, into); err != nil {
			return err
		}
		return c.observe(t, q.B, locs, into)
	}
	return nil
}

func (cc *compiler) errf(line int, format string, args ...any) error {
	return &Error{cc.t.File, line, fmt.Sprintf(format, args...)}
}

func (cc *compiler) emit(in memory.Instr, line int) error {
	if len(cc.code) >= maxStmts {
		return cc.errf(line, "P%d has more than %d instructions", cc.thread, maxStmts)
	}
	in.Guard, in.Sense = cc.guard, cc.sense
	if in.Op == memory.Fence || in.Op == memory.Store || in.Op == memory.Cond {
		in.Reg = -1
	}
	cc.code = append(cc.code, in)
	return nil
}

func (cc *compiler) stmts(body []*Stmt) error {
	for _, s := range body {
		if err := cc.stmt(s); err != nil {
			return err
		}
	}
	return nil
}

func (cc *compiler) stmt(s *Stmt) error {
	switch s.Kind {
	case sDecl:
		if _, ok := cc.regs[s.Name]; ok {
			return cc.errf(s.Line, "register %s is declared twice", s.Name)
		}
		if _, ok := cc.locs[s.Name]; ok {
			return cc.errf(s.Line, "%s is a location; it cannot be a register too", s.Name)
		}
		cc.regs[s.Name] = len(cc.names)
		cc.names = append(cc.names, s.Name)
		if s.X == nil {
			return nil
		}
		return cc.assign(cc.regs[s.Name], s.X)
	case sAssign:
		r, ok := cc.regs[s.Name]
		if !ok {
			if _, isLoc := cc.locs[s.Name]; isLoc {
				return cc.errf(s.Line, "assigning to location %s: write WRITE_ONCE(*%s, ...)", s.Name, s.Name)
			}
			// As herd7 does, an assignment declares a register of its
			// own (the kernel's Documentation/litmus-tests rely on it).
			r = len(cc.names)
			cc.regs[s.Name] = r
			cc.names = append(cc.names, s.Name)
		}
		return cc.assign(r, s.X)
	case sExpr:
		_, err := cc.access(-1, s.X)
		return err
	case sBlock:
		return cc.stmts(s.Then)
	case sStore:
		// A plain store is, on both architectures, the same store
		// instruction WRITE_ONCE compiles to (docs/memory.md: what the
		// compiler may do with a plain access is not modelled).
		in := memory.Instr{Op: memory.Store}
		if err := cc.loc(&in, &CExpr{Kind: cCall, Line: s.Line, Name: "a plain store", Args: []*CExpr{s.Lhs}}, 0, false); err != nil {
			return err
		}
		v, err := cc.expr(s.X)
		if err != nil {
			return err
		}
		in.Val = v
		return cc.emit(in, s.Line)
	case sIf:
		e, err := cc.expr(s.X)
		if err != nil {
			return err
		}
		if err := cc.emit(memory.Instr{Op: memory.Cond, Val: e}, s.Line); err != nil {
			return err
		}
		outer, outerSense := cc.guard, cc.sense
		cc.guard = len(cc.code) - 1
		cc.sense = true
		if err := cc.stmts(s.Then); err != nil {
			return err
		}
		cc.sense = false
		if err := cc.stmts(s.Else); err != nil {
			return err
		}
		cc.guard, cc.sense = outer, outerSense
		return nil
	}
	return cc.errf(s.Line, "unsupported statement")
}

// assign compiles reg = x: a memory access straight into reg, or an
// expression computed locally.
func (cc *compiler) assign(reg int, x *CExpr) error {
	if x.Kind == cCall {
		if ok, err := cc.access(reg, x); ok || err != nil {
			return err
		}
	}
	if x.Kind == cDeref {
		return cc.plainLoad(reg, x)
	}
	e, err := cc.expr(x)
	if err != nil {
		return err
	}
	return cc.emit(memory.Instr{Op: memory.Assign, Reg: reg, Val: e}, x.Line)
}

// temp is a new hidden register, for a read inside an expression.
func (cc *compiler) temp() int {
	cc.names = append(cc.names, fmt.Sprintf("$t%d", len(cc.names)))
	return len(cc.names) - 1
}

var binOps = map[string]memory.ExprOp{"+": memory.EAdd, "-": memory.ESub, "*": memory.EMul, "&": memory.EAnd,
	"|": memory.EOr, "^": memory.EXor, "==": memory.EEq, "!=": memory.ENe, "<": memory.ELt, "<=": memory.ELe,
	">": memory.EGt, ">=": memory.EGe, "&&": memory.ELAnd, "||": memory.ELOr}

// expr compiles a value; a memory access in it reads into a hidden
// register first.
func (cc *compiler) expr(x *CExpr) (*memory.Expr, error) {
	switch x.Kind {
	case cInt:
		return memory.Const(x.Val), nil
	case cIdent:
		if r, ok := cc.regs[x.Name]; ok {
			return memory.RegRef(r), nil
		}
		if _, ok := cc.locs[x.Name]; ok {
			// A parameter is a pointer: its value is the location's address.
			l, err := cc.param(x)
			if err != nil {
				return nil, err
			}
			return memory.Const(memory.Address(l)), nil
		}
		return nil, cc.errf(x.Line, "unknown name %s (declare registers with int %s;)", x.Name, x.Name)
	case cAddr:
		if _, ok := cc.locs[x.Name]; !ok {
			return nil, cc.errf(x.Line, "%s is no location of the test", x.Name)
		}
		l, err := cc.param(x)
		if err != nil {
			return nil, err
		}
		return memory.Const(memory.Address(l)), nil
	case cDeref:
		r := cc.temp()
		if err := cc.plainLoad(r, x); err != nil {
			return nil, err
		}
		return memory.RegRef(r), nil
	case cUnary:
		a, err := cc.expr(x.A)
		if err != nil {
			return nil, err
		}
		switch x.Op {
		case "!":
			return memory.Bin(memory.ENot, a, nil), nil
		case "-":
			return memory.Bin(memory.ENeg, a, nil), nil
		}
		return memory.Bin(memory.EXor, a, memory.Const(-1)), nil
	case cBinary:
		a, err := cc.expr(x.A)
		if err != nil {
			return nil, err
		}
		b, err := cc.expr(x.B)
		if err != nil {
			return nil, err
		}
		return memory.Bin(binOps[x.Op], a, b), nil
	case cCall:
		r := cc.temp()
		ok, err := cc.access(r, x)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, cc.errf(x.Line, "%s() gives no value", x.Name)
		}
		return memory.RegRef(r), nil
	}
	return nil, cc.errf(x.Line, "unsupported expression")
}

// plainLoad compiles reg = *p, a plain load: the same load instruction
// READ_ONCE compiles to.
func (cc *compiler) plainLoad(reg int, x *CExpr) error {
	in := memory.Instr{Op: memory.Load, Reg: reg}
	if err := cc.loc(&in, &CExpr{Kind: cCall, Line: x.Line, Name: "a plain load", Args: []*CExpr{x.A}}, 0, false); err != nil {
		return err
	}
	return cc.emit(in, x.Line)
}

// param is the location x names, which must be one of the thread's
// parameters.
func (cc *compiler) param(x *CExpr) (int, error) {
	i, ok := cc.locs[x.Name]
	if !ok {
		return 0, cc.errf(x.Line, "%s is no location of the test (a parameter of a thread or a name in the initial state)", x.Name)
	}
	if !slices.Contains(cc.params, x.Name) {
		return 0, cc.errf(x.Line, "P%d uses %s, which is not one of its parameters", cc.thread, x.Name)
	}
	return i, nil
}

// loc is what a macro's pointer argument points to: *x for READ_ONCE,
// WRITE_ONCE and the RCU pointer accessors (deref true), x for the others.
// A parameter is one location; any other pointer (a register, pointer
// arithmetic) gives an address computed when the access runs.
func (cc *compiler) loc(in *memory.Instr, call *CExpr, arg int, deref bool) error {
	a := call.Args[arg]
	if deref {
		if a.Kind != cDeref {
			return cc.errf(a.Line, "%s wants a location as *x here", call.Name)
		}
		a = a.A
	}
	if a.Kind == cIdent {
		if _, ok := cc.locs[a.Name]; ok || !cc.isReg(a.Name) {
			l, err := cc.param(a)
			in.Loc = l
			return err
		}
	}
	e, err := cc.expr(a)
	if err != nil {
		return err
	}
	in.Addr = e
	return nil
}

func (cc *compiler) isReg(name string) bool {
	_, ok := cc.regs[name]
	return ok
}

// access compiles a kernel macro call. reg receives its value (-1: none).
// valued reports whether the macro gives a value.
func (cc *compiler) access(reg int, call *CExpr) (valued bool, err error) {
	if call.Kind != cCall {
		return false, cc.errf(call.Line, "expected a call")
	}
	name := call.Name
	nargs := func(n int) error {
		if len(call.Args) != n {
			return cc.errf(call.Line, "%s takes %d arguments, not %d", name, n, len(call.Args))
		}
		return nil
	}
	line := call.Line
	if strings.HasPrefix(name, "raw_spin_") {
		name = strings.TrimPrefix(name, "raw_") // the same code without lockdep
	}
	if why, ok := outOfScope[name]; ok {
		return false, cc.errf(line, "%s is out of scope: %s (docs/memory.md)", name, why)
	}
	switch name {
	case "READ_ONCE", "rcu_dereference", "smp_load_acquire":
		if err := nargs(1); err != nil {
			return false, err
		}
		// x86: a load either way (smp_load_acquire is READ_ONCE plus a
		// compiler barrier); arm64: smp_load_acquire is LDAR, and
		// rcu_dereference is READ_ONCE (the address dependency orders).
		in := memory.Instr{Op: memory.Load, Reg: reg, Acquire: name == "smp_load_acquire" && !cc.x86}
		if err := cc.loc(&in, call, 0, name != "smp_load_acquire"); err != nil {
			return false, err
		}
		return true, cc.emit(in, line)
	case "WRITE_ONCE", "rcu_assign_pointer", "smp_store_release":
		if err := nargs(2); err != nil {
			return false, err
		}
		// x86: a plain store; arm64: smp_store_release and
		// rcu_assign_pointer are STLR.
		in := memory.Instr{Op: memory.Store, Release: name != "WRITE_ONCE" && !cc.x86}
		if err := cc.loc(&in, call, 0, name != "smp_store_release"); err != nil {
			return false, err
		}
		v, err := cc.expr(call.Args[1])
		if err != nil {
			return false, err
		}
		in.Val = v
		return false, cc.emit(in, line)
	case "rcu_read_lock", "rcu_read_unlock":
		// Without synchronize_rcu() (not supported), a read-side critical
		// section orders nothing.
		return false, nargs(0)
	case "smp_mb__after_unlock_lock":
		// Orders only on powerpc (kernel/rcu/tree.h); on x86 and arm64
		// an unlock followed by a lock is ordered already (x86: the lock
		// is a locked instruction; arm64: STLR then an acquiring read).
		return false, nargs(0)
	case "smp_store_mb":
		if err := nargs(2); err != nil {
			return false, err
		}
		// x86: an xchg (asm/barrier.h); arm64: the generic WRITE_ONCE
		// then smp_mb() (asm-generic/barrier.h).
		in := memory.Instr{Op: memory.Store}
		if cc.x86 {
			in = memory.Instr{Op: memory.RMW, Reg: -1, Full: true}
		}
		if err := cc.loc(&in, call, 0, true); err != nil {
			return false, err
		}
		v, err := cc.expr(call.Args[1])
		if err != nil {
			return false, err
		}
		in.Val = v
		if err := cc.emit(in, line); err != nil {
			return false, err
		}
		if cc.x86 {
			return false, nil
		}
		return false, cc.emit(memory.Instr{Op: memory.Fence, Fence: memory.FenceFull}, line)
	case "spin_is_locked":
		if err := nargs(1); err != nil {
			return false, err
		}
		// A plain read of the lock word, true when it is not 0
		// (asm-generic/qspinlock.h: queued_spin_is_locked()).
		r := cc.temp()
		return cc.lockTest(memory.Instr{Op: memory.Load, Reg: r}, call, reg, memory.ENe, line)
	case "spin_trylock":
		if err := nargs(1); err != nil {
			return false, err
		}
		// One acquiring compare-and-swap of 0 to 1, not retried
		// (queued_spin_trylock(): atomic_try_cmpxchg_acquire; x86: a
		// locked cmpxchg), true when it succeeded.
		r := cc.temp()
		in := memory.Instr{Op: memory.RMW, Reg: r, Old: memory.Const(0), Val: memory.Const(1), Acquire: !cc.x86, Full: cc.x86}
		return cc.lockTest(in, call, reg, memory.EEq, line)
	case "smp_mb", "smp_rmb", "smp_wmb", "smp_mb__before_atomic", "smp_mb__after_atomic", "smp_mb__after_spinlock", "barrier":
		if err := nargs(0); err != nil {
			return false, err
		}
		kind, none := memory.FenceFull, false
		switch {
		case cc.x86:
			// Only smp_mb orders anything on x86 (a locked add on the
			// stack, as strong as MFENCE); the others are barrier(),
			// and atomics and lock acquisition are full barriers already.
			none = name != "smp_mb"
		case name == "barrier":
			none = true
		case name == "smp_rmb":
			kind = memory.FenceRead // DMB ISHLD
		case name == "smp_wmb":
			kind = memory.FenceWrite // DMB ISHST
		}
		if none {
			return false, nil
		}
		return false, cc.emit(memory.Instr{Op: memory.Fence, Fence: kind}, line)
	case "spin_lock", "spin_unlock":
		if err := nargs(1); err != nil {
			return false, err
		}
		if name == "spin_lock" {
			// An acquiring compare-and-swap of 0 to 1, retried until it
			// succeeds (x86: a locked cmpxchg, fully ordered).
			in := memory.Instr{Op: memory.RMW, Reg: -1, Old: memory.Const(0), Val: memory.Const(1),
				Spin: true, Acquire: !cc.x86, Full: cc.x86}
			if err := cc.loc(&in, call, 0, false); err != nil {
				return false, err
			}
			return false, cc.emit(in, line)
		}
		// The unlock is a release store of 0 (x86: a plain store).
		in := memory.Instr{Op: memory.Store, Val: memory.Const(0), Release: !cc.x86}
		if err := cc.loc(&in, call, 0, false); err != nil {
			return false, err
		}
		return false, cc.emit(in, line)
	}
	if strings.HasPrefix(name, "atomic_") {
		return cc.atomic(reg, call)
	}
	base, order, _ := strings.Cut(name, "_")
	if base != "xchg" && base != "cmpxchg" {
		return false, cc.errf(line, "%s is not supported (docs/memory.md lists what is)", name)
	}
	in := memory.Instr{Op: memory.RMW, Reg: reg}
	switch {
	case cc.x86:
		in.Full = true // every variant is a locked instruction
	case order == "":
		in.Full = true
	case order == "acquire":
		in.Acquire = true
	case order == "release":
		in.Release = true
	case order == "relaxed":
	default:
		return false, cc.errf(line, "%s is not supported (docs/memory.md lists what is)", name)
	}
	n := 2
	if base == "cmpxchg" {
		n = 3
	}
	if err := nargs(n); err != nil {
		return false, err
	}
	if err := cc.loc(&in, call, 0, false); err != nil {
		return false, err
	}
	if base == "cmpxchg" {
		if in.Old, err = cc.expr(call.Args[1]); err != nil {
			return false, err
		}
	}
	if in.Val, err = cc.expr(call.Args[n-1]); err != nil {
		return false, err
	}
	return true, cc.emit(in, line)
}

// outOfScope are the kernel primitives LKMM's tests use that no single
// architecture's instructions express, each with the reason.
var outOfScope = map[string]string{
	"synchronize_rcu":           "RCU grace periods are not modelled",
	"synchronize_rcu_expedited": "RCU grace periods are not modelled",
	"call_rcu":                  "RCU grace periods are not modelled",
	"srcu_read_lock":            "SRCU is not modelled",
	"srcu_read_unlock":          "SRCU is not modelled",
	"srcu_down_read":            "SRCU is not modelled",
	"srcu_up_read":              "SRCU is not modelled",
	"synchronize_srcu":          "SRCU is not modelled",
	"spin_unlock_wait":          "the kernel no longer has it",
}

// atomic compiles the atomic_t operations: atomic_read and atomic_set
// (and their _acquire and _release forms) are loads and stores; the
// arithmetic ones are RMWs that add, unordered when they return nothing
// (x86: locked, fully ordered), ordered by their suffix when they return
// a value (the new one for _return, the old one for fetch_); atomic_xchg
// and atomic_cmpxchg are xchg and cmpxchg.
// lockTest emits in, an access to the lock that is call's first argument
// reading the lock word into in.Reg, and then, for a caller that wants
// the result in reg, reg = (the word op 0): spin_is_locked() and
// spin_trylock() end alike.
func (cc *compiler) lockTest(in memory.Instr, call *CExpr, reg int, op memory.ExprOp, line int) (bool, error) {
	if err := cc.loc(&in, call, 0, false); err != nil {
		return false, err
	}
	if err := cc.emit(in, line); err != nil {
		return false, err
	}
	if reg < 0 {
		return true, nil
	}
	return true, cc.emit(memory.Instr{Op: memory.Assign, Reg: reg, Val: memory.Bin(op, memory.RegRef(in.Reg), memory.Const(0))}, line)
}

func (cc *compiler) atomic(reg int, call *CExpr) (bool, error) {
	name, line := call.Name, call.Line
	op := strings.TrimPrefix(name, "atomic_")
	order := ""
	for _, o := range []string{"_relaxed", "_acquire", "_release"} {
		if rest, ok := strings.CutSuffix(op, o); ok {
			op, order = rest, o[1:]
		}
	}
	unsupported := cc.errf(line, "%s is not supported (docs/memory.md lists what is)", name)
	nargs := func(n int) error {
		if len(call.Args) != n {
			return cc.errf(line, "%s takes %d arguments, not %d", name, n, len(call.Args))
		}
		return nil
	}
	switch op {
	case "read", "set":
		if op == "read" && (order == "relaxed" || order == "release") || op == "set" && (order == "relaxed" || order == "acquire") {
			return false, unsupported
		}
		n := 1
		if op == "set" {
			n = 2
		}
		if err := nargs(n); err != nil {
			return false, err
		}
		in := memory.Instr{Op: memory.Load, Reg: reg, Acquire: order == "acquire" && !cc.x86}
		if op == "set" {
			in = memory.Instr{Op: memory.Store, Release: order == "release" && !cc.x86}
			v, err := cc.expr(call.Args[1])
			if err != nil {
				return false, err
			}
			in.Val = v
		}
		if err := cc.loc(&in, call, 0, false); err != nil {
			return false, err
		}
		return op == "read", cc.emit(in, line)
	case "xchg", "cmpxchg":
		call2 := *call
		call2.Name = op
		if order != "" {
			call2.Name += "_" + order
		}
		return cc.access(reg, &call2)
	}
	if cond, ok := condAtomics[op]; ok {
		if order != "" {
			return false, unsupported
		}
		return cc.condAtomic(reg, call, cond)
	}
	// The arithmetic: OP (void), OP_return (new value), fetch_OP (old).
	fetch := strings.HasPrefix(op, "fetch_")
	op = strings.TrimPrefix(op, "fetch_")
	ret, _ := strings.CutSuffix(op, "_return")
	returns := ret != op
	if fetch && returns {
		return false, unsupported
	}
	op = ret
	var delta *CExpr
	vArg := 0
	switch op {
	case "inc", "dec":
		if err := nargs(1); err != nil {
			return false, err
		}
		delta = &CExpr{Kind: cInt, Line: line, Val: 1}
	case "add", "sub":
		if err := nargs(2); err != nil {
			return false, err
		}
		delta, vArg = call.Args[0], 1
	default:
		return false, unsupported
	}
	valued := fetch || returns
	if !valued && order != "" {
		return false, unsupported
	}
	d, err := cc.expr(delta)
	if err != nil {
		return false, err
	}
	if op == "dec" || op == "sub" {
		d = memory.Bin(memory.ENeg, d, nil)
	}
	in := memory.Instr{Op: memory.RMW, Val: d, Add: true, Reg: reg}
	switch {
	case cc.x86:
		in.Full = true // a locked instruction, whatever it returns
	case !valued:
		// arm64: an atomic that returns nothing orders nothing.
	case order == "":
		in.Full = true
	case order == "acquire":
		in.Acquire = true
	case order == "release":
		in.Release = true
	}
	if err := cc.loc(&in, &CExpr{Kind: cCall, Line: line, Name: name, Args: []*CExpr{call.Args[vArg]}}, 0, false); err != nil {
		return false, err
	}
	if returns && reg >= 0 {
		// The new value: the old one plus the delta, computed locally.
		old := cc.temp()
		in.Reg = old
		if err := cc.emit(in, line); err != nil {
			return false, err
		}
		return true, cc.emit(memory.Instr{Op: memory.Assign, Reg: reg, Val: memory.Bin(memory.EAdd, memory.RegRef(old), d)}, line)
	}
	return valued, cc.emit(in, line)
}

// condAtomic is one of the atomic_t operations that test a value: the
// conditional ones (atomic_add_unless(v, a, u), atomic_fetch_add_unless,
// atomic_inc_not_zero(v)), fully ordered when they add and unordered when
// they do not (atomic_t.txt in the kernel's Documentation; x86 reads
// with a plain load and gives up, arm64's cmpxchg loop does the same),
// and the ones that test the new value (atomic_dec_and_test(v),
// atomic_inc_and_test(v), atomic_sub_and_test(i, v),
// atomic_add_negative(i, v)), fully ordered.
type condAtomic struct {
	args  int    // arguments, v among them
	delta int64  // the constant added; 0: the argument before v
	test  string // what the value is: "added", "old", "zero", "negative"
}

var condAtomics = map[string]condAtomic{
	"add_unless":       {3, 0, "added"},
	"fetch_add_unless": {3, 0, "old"},
	"inc_not_zero":     {1, 1, "added"},
	"dec_and_test":     {1, -1, "zero"},
	"inc_and_test":     {1, 1, "zero"},
	"sub_and_test":     {2, 0, "zero"},
	"add_negative":     {2, 0, "negative"},
}

func (cc *compiler) condAtomic(reg int, call *CExpr, c condAtomic) (bool, error) {
	name, line := call.Name, call.Line
	if len(call.Args) != c.args {
		return false, cc.errf(line, "%s takes %d arguments, not %d", name, c.args, len(call.Args))
	}
	vArg := 0
	if c.test == "zero" || c.test == "negative" {
		vArg = c.args - 1 // atomic_sub_and_test(i, v)
	}
	var d *memory.Expr
	switch {
	case c.delta != 0:
		d = memory.Const(c.delta)
	default:
		a := call.Args[1] // atomic_add_unless(v, a, u)
		if vArg != 0 {
			a = call.Args[0]
		}
		var err error
		if d, err = cc.expr(a); err != nil {
			return false, err
		}
		if strings.HasSuffix(name, "sub_and_test") {
			d = memory.Bin(memory.ENeg, d, nil)
		}
	}
	in := memory.Instr{Op: memory.RMW, Val: d, Add: true, Full: true}
	if c.test == "added" || c.test == "old" {
		u := memory.Const(0) // atomic_inc_not_zero
		if c.args == 3 {
			var err error
			if u, err = cc.expr(call.Args[2]); err != nil {
				return false, err
			}
		}
		in.Old, in.Unless = u, true
	}
	if err := cc.loc(&in, &CExpr{Kind: cCall, Line: line, Name: name, Args: []*CExpr{call.Args[vArg]}}, 0, false); err != nil {
		return false, err
	}
	old := cc.temp()
	in.Reg = old
	if err := cc.emit(in, line); err != nil {
		return false, err
	}
	if reg < 0 {
		return true, nil
	}
	var v *memory.Expr
	switch c.test {
	case "added":
		v = memory.Bin(memory.ENe, memory.RegRef(old), in.Old)
	case "old":
		v = memory.RegRef(old)
	case "zero":
		v = memory.Bin(memory.EEq, memory.Bin(memory.EAdd, memory.RegRef(old), d), memory.Const(0))
	case "negative":
		v = memory.Bin(memory.ELt, memory.Bin(memory.EAdd, memory.RegRef(old), d), memory.Const(0))
	}
	return true, cc.emit(memory.Instr{Op: memory.Assign, Reg: reg, Val: v}, line)
}
