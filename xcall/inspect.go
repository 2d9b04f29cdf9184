package xcall

// Read-only inspection for debuggers (the xcallsh shell's info cpus, cpu,
// queue, csd and bt): what a kernel debugger reads from memory, in the
// kernel's terms — the call_single_queue of a CPU (kernel/smp.c), a csd's
// flag word (include/linux/smp_types.h), the cpuhp state of a CPU
// (kernel/cpu.c's cpuhp_cpu_state), whether an idle CPU polls
// (TIF_POLLING_NRFLAG). Nothing here changes state or takes virtual time.

import "github.com/xcallsh/xcallsh/emu"

// CSDView is a csd as a debugger prints it.
type CSDView struct {
	ID       int    // the model's stable number (its %p value derives from it)
	Ptr      string // the address, as %p prints it
	Flags    uint32 // the flag word: CSD_FLAG_LOCK | CSD_TYPE_*
	Func     string // func, as %ps prints it
	Info     string // info, as %p prints a data pointer
	Src, Dst int    // node.src and node.dst (-1: not written)
	On       int    // the CPU whose queue it was last pushed on (-1: none)
}

// Locked reports whether CSD_FLAG_LOCK is set.
func (v CSDView) Locked() bool { return v.Flags&CSDFlagLock != 0 }

// TypeName is CSD_TYPE(csd) spelled as smp_types.h does.
func (v CSDView) TypeName() string { return CSDTypeName(v.Flags & CSDFlagTypeMask) }

// CSDTypeName spells a CSD_TYPE_* value (the flags' type bits).
func CSDTypeName(t uint32) string {
	switch t & CSDFlagTypeMask {
	case CSDTypeAsync:
		return "CSD_TYPE_ASYNC"
	case CSDTypeSync:
		return "CSD_TYPE_SYNC"
	case CSDTypeIRQWork:
		return "CSD_TYPE_IRQ_WORK"
	case CSDTypeTTWU:
		return "CSD_TYPE_TTWU"
	}
	return "CSD_TYPE_?"
}

func (c *CSD) view() CSDView {
	return CSDView{ID: c.ID, Ptr: c.Ptr(), Flags: c.flags, Func: c.Func.PS(), Info: dataPtr(c.Info),
		Src: c.src, Dst: c.dst, On: c.on}
}

// CallSingleQueue lists the csds on cpu's call_single_queue, head first
// (the newest: the llist is pushed at its head; the flush reverses it and
// runs the oldest first).
func (k *Kernel) CallSingleQueue(cpu int) []CSDView {
	var out []CSDView
	for c := k.pc[cpu].queue; c != nil; c = c.next {
		out = append(out, c.view())
	}
	return out
}

// Executing is the csd whose function cpu runs now, as csd_lock_record()
// keeps it for the CSD-lock reports (only kept with csdlock_debug on).
func (k *Kernel) Executing(cpu int) (CSDView, bool) {
	if c := k.pc[cpu].curCSD; c != nil {
		return c.view(), true
	}
	return CSDView{}, false
}

// ViewCSD is the current state of the csd an Event is about.
func (k *Kernel) ViewCSD(e Event) (CSDView, bool) {
	if e.csd == nil {
		return CSDView{}, false
	}
	return e.csd.view(), true
}

// FindCSD looks for csd number id where the kernel keeps csds: the
// call_single_queues, the per-CPU csd_data and cfd_data csds, the csds a
// CPU executes, and the free on-stack csds.
func (k *Kernel) FindCSD(id int) (CSDView, bool) {
	for cpu := range k.pc {
		p := &k.pc[cpu]
		for c := p.queue; c != nil; c = c.next {
			if c.ID == id {
				return c.view(), true
			}
		}
		for _, c := range append([]*CSD{p.curCSD, p.csdData}, p.cfdCSD...) {
			if c != nil && c.ID == id {
				return c.view(), true
			}
		}
	}
	for _, c := range k.csdFree {
		if c.ID == id {
			return c.view(), true
		}
	}
	return CSDView{}, false
}

// CSDWaiter is a context in csd_lock_wait() on a csd.
type CSDWaiter struct {
	CPU  int
	Comm string // the context's name ("irq" for a handler)
	PID  int
	On   int // the CPU whose queue the csd was on when the wait began
}

// CSDWaiters lists the contexts spinning in csd_lock_wait() on csd id, by
// CPU, innermost first on each.
func (k *Kernel) CSDWaiters(id int) []CSDWaiter {
	var out []CSDWaiter
	for cpu, spins := range k.csdSpins {
		for i := len(spins) - 1; i >= 0; i-- {
			if sp := spins[i]; sp.id == id {
				out = append(out, CSDWaiter{CPU: cpu, Comm: sp.c.Name, PID: sp.c.PID, On: sp.on})
			}
		}
	}
	return out
}

// SpinningOn is the csd id cpu's running context waits on in
// csd_lock_wait(), if it does.
func (k *Kernel) SpinningOn(cpu int) (id int, ok bool) {
	sp, ok := k.spinningOn(cpu)
	return sp.id, ok
}

// CPUHPState is cpu's cpuhp state: its number in the model's
// cpuhp_hp_states[] and its name ("smpcfd:dying", "online").
func (k *Kernel) CPUHPState(cpu int) (int, string) {
	s := k.hpState[cpu]
	return int(s), s.String()
}

// Active reports whether cpu is in cpu_active_mask.
func (k *Kernel) Active(cpu int) bool { return k.active.Test(cpu) }

// Polling reports whether cpu is idle and polling need-resched (idle=poll:
// TIF_POLLING_NRFLAG set), so that a wake-up needs no IPI.
func (k *Kernel) Polling(cpu int) bool {
	c := k.M.CPU(cpu)
	return k.idlePoll && c.Idle() && !c.Parked
}

// Frames is ctx's kernel call stack, innermost first, as %pS prints it.
func Frames(ctx *emu.Context) []string {
	out := make([]string, 0, len(ctx.Frames))
	for i := len(ctx.Frames) - 1; i >= 0; i-- {
		out = append(out, ctx.Frames[i])
	}
	return out
}

// CPUHPStates names the cpuhp states the model walks, in order (the names
// of kernel/cpu.c's cpuhp_hp_states[]).
func CPUHPStates() []string {
	var out []string
	for s := cpuhpOffline; s <= cpuhpOnline; s++ {
		out = append(out, s.String())
	}
	return out
}
