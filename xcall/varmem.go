// This file models the stores of named kernel variables under a native
// memory model the way x86-TSO orders them (arch/x86/include/asm/barrier.h:
// a plain store is a MOV, smp_mb() a LOCKed add, every atomic RMW a LOCKed
// instruction): each CPU has a FIFO store buffer; a store enters it and
// becomes visible to the other CPUs a drawn time later (emu's StoreDelay,
// nothing drawn at seed 0), never before an earlier store of the same CPU;
// the storing CPU reads its own buffered store (store-to-load
// forwarding); a full barrier or a LOCKed read-modify-write drains the
// CPU's buffer first. Loads are never reordered with each other (so
// smp_rmb() is only a compiler barrier here, as on x86). Under the
// sequentially consistent model (the default) every store is visible at
// once and nothing is drawn. The TLB path of tlb.go keeps its shared
// per-CPU and per-mm words here; docs/memory.md#the-tlb-flush-path.

package xcall

// varKey names one kernel variable: a per-CPU field or a per-object field
// ("cpu_tlbstate.loaded_mm", cpu 2), idx being the CPU or the object.
type varKey struct {
	name string
	idx  int
}

// varStore is a store of val to key by CPU cpu that the other CPUs see
// from time at on.
type varStore struct {
	key varKey
	val int64
	cpu int
	at  int64
}

// varMemory is the memory of the named variables: the values every CPU
// sees, and the stores still buffered, each CPU's in program order.
type varMemory struct {
	mem map[varKey]int64 // looked up, never ranged
	buf []varStore
}

// varMem is the kernel's named-variable memory, made on first use.
func (k *Kernel) varMem() *varMemory {
	if k.vars == nil {
		k.vars = &varMemory{mem: make(map[varKey]int64)}
	}
	return k.vars
}

// retire makes visible, in the order they become visible, the buffered
// stores whose time has come by now.
func (v *varMemory) retire(now int64) {
	for {
		best := -1
		for i, s := range v.buf {
			if s.at <= now && (best < 0 || s.at < v.buf[best].at) {
				best = i
			}
		}
		if best < 0 {
			return
		}
		s := v.buf[best]
		v.mem[s.key] = s.val
		v.buf = append(v.buf[:best], v.buf[best+1:]...)
	}
}

// drain makes cpu's buffered stores visible now, oldest first.
func (v *varMemory) drain(cpu int) {
	j := 0
	for _, s := range v.buf {
		if s.cpu == cpu {
			v.mem[s.key] = s.val
			continue
		}
		v.buf[j] = s
		j++
	}
	v.buf = v.buf[:j]
}

// varStoreTo is a plain store (WRITE_ONCE, this_cpu_write) of val to key
// by cpu. Under native it is buffered for a drawn time, at least until
// cpu's earlier stores are visible (FIFO); a store drawn 0 behind no other
// is visible at once.
func (k *Kernel) varStoreTo(cpu int, key varKey, val int64) {
	v := k.varMem()
	now := k.M.Now()
	v.retire(now)
	if !k.native {
		v.mem[key] = val
		return
	}
	at := now + k.M.StoreDelay(k.storeBound())
	for _, s := range v.buf {
		if s.cpu == cpu && s.at > at {
			at = s.at
		}
	}
	if at <= now {
		v.mem[key] = val
		return
	}
	v.buf = append(v.buf, varStore{key: key, val: val, cpu: cpu, at: at})
}

// varLoad is a plain load (READ_ONCE, this_cpu_read, per_cpu,
// atomic64_read) of key by cpu: cpu's own newest buffered store to key if
// it has one, else what every CPU sees.
func (k *Kernel) varLoad(cpu int, key varKey) int64 {
	v := k.varMem()
	v.retire(k.M.Now())
	for i := len(v.buf) - 1; i >= 0; i-- {
		if s := v.buf[i]; s.cpu == cpu && s.key == key {
			return s.val
		}
	}
	return v.mem[key]
}

// varVisible is the value of key every CPU but a storing one sees now:
// the ground truth the checkers compare with.
func (k *Kernel) varVisible(key varKey) int64 {
	v := k.varMem()
	v.retire(k.M.Now())
	return v.mem[key]
}

// smpMB is a full barrier on cpu (smp_mb(), MFENCE or a LOCKed add; a
// serializing instruction such as a CR3 write does the same): its
// buffered stores become visible before its later loads.
func (k *Kernel) smpMB(cpu int) {
	v := k.varMem()
	v.retire(k.M.Now())
	v.drain(cpu)
}

// varAddReturn is a LOCKed add (atomic64_inc_return() and kin): it drains
// cpu's buffer, then adds d to key in memory, and returns the new value.
func (k *Kernel) varAddReturn(cpu int, key varKey, d int64) int64 {
	k.smpMB(cpu)
	v := k.vars
	v.mem[key] += d
	return v.mem[key]
}

// varBuffered reports whether cpu still has stores no other CPU sees.
func (k *Kernel) varBuffered(cpu int) bool {
	if k.vars == nil {
		return false
	}
	k.vars.retire(k.M.Now())
	for _, s := range k.vars.buf {
		if s.cpu == cpu {
			return true
		}
	}
	return false
}
