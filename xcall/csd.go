package xcall

import "github.com/xcallsh/xcallsh/emu"

// csd flag word (include/linux/smp_types.h).
const (
	CSDFlagLock     = 0x01
	CSDTypeAsync    = 0x00
	CSDTypeSync     = 0x10
	CSDTypeIRQWork  = 0x20
	CSDTypeTTWU     = 0x30
	CSDFlagTypeMask = 0xF0
)

// CSD is call_single_data_t: the unit of work queued on a CPU.
//
// State machine (the lock bit and the queue):
//
//	free --csd_lock--> locked --llist_add--> queued --flush dequeues--> running
//	running --SYNC: unlock after func / ASYNC: unlock before func--> free
//	locked --local run or -ENXIO--> free (unlocked by the sender)
//
// flags, Func and Info are set by the sender while it holds the lock and
// cleared (flags) by the target in the flush; next is owned by the queue.
type CSD struct {
	flags    uint32
	Func     *Func
	Info     any
	src, dst int // node.src/dst: written with csd-lock debugging (and by the model for SYNC/ASYNC calls)
	on       int // the CPU whose queue the csd was last pushed on (the model's own record)
	next     *CSD
	ID       int // stable number: the %p value and stuck reports derive from it
	waiters  emu.WaitQueue
	// The native memory model (memory.go): the queueing store still
	// buffered, by number (0: none), time it becomes visible (0: none)
	// and storing CPU, and the buffered unlocks, oldest first.
	qSeq uint64
	qAt  int64
	qCPU int
	ubuf []unlockRef
}

// Locked reports whether the CSD_FLAG_LOCK bit is set.
func (c *CSD) Locked() bool { return c.flags&CSDFlagLock != 0 }

// Type is CSD_TYPE(csd).
func (c *CSD) Type() uint32 { return c.flags & CSDFlagTypeMask }

// Ptr is the csd's address as %p prints it.
func (c *CSD) Ptr() string {
	if c == nil {
		return "0000000000000000"
	}
	return ptr(c.ID)
}

// NewCSD is INIT_CSD(csd, func, info): an unlocked csd with zero flags.
func (k *Kernel) NewCSD(f *Func, info any) *CSD {
	k.nextCSD++
	return &CSD{Func: f, Info: info, ID: k.nextCSD, src: -1, dst: -1, on: -1}
}

// EventKind names what a kernel Event records.
type EventKind uint8

// Kernel events, in the order a csd goes through them.
const (
	EvLock     EventKind = iota // a sender locked CSD (csd_lock or the on-stack init)
	EvQueue                     // CSD pushed on CPU Dst's queue by CPU
	EvRun                       // CSD's function starts on CPU (Dst = -1: local run, not queued)
	EvUnlock                    // CSD unlocked by CPU
	EvWaitDone                  // a synchronous caller on CPU returned from waiting on CSD
	EvDequeue                   // CSD taken off CPU's queue by a flush
)

func (e EventKind) String() string {
	return [...]string{"lock", "queue", "run", "unlock", "waitdone", "dequeue"}[e]
}

// Event is one step of the cross-call protocol, fed to EventSinks (the
// invariant validator).
type Event struct {
	T    int64
	Kind EventKind
	CSD  int
	CPU  int // the CPU doing it
	Dst  int // EvQueue: the target; EvRun: -1 for a local run
	Type uint32
	csd  *CSD // the csd itself (the Validator forgets it once collected); nil in made-up events
}

// EventSink consumes kernel Events.
type EventSink interface {
	KernelEvent(e Event)
}

func (k *Kernel) emit(kind EventKind, csd *CSD, cpu, dst int) {
	if len(k.Events) != 0 || k.M.Recording() { // small enough to inline: no call when nobody listens
		k.emitSlow(kind, csd, cpu, dst)
	}
}

func (k *Kernel) emitSlow(kind EventKind, csd *CSD, cpu, dst int) {
	if n := len(k.Events); n != 0 {
		var e Event // field by field: a composite literal is built aside and copied
		e.T, e.Kind, e.CSD, e.CPU, e.Dst, e.Type, e.csd = k.M.Now(), kind, csd.ID, cpu, dst, csd.Type(), csd
		if v, ok := k.Events[0].(*Validator); ok && n == 1 {
			v.check(&e) // the one sink of torture and explore runs
		} else {
			k.emitTo(&e)
		}
	}
	if kind == EvLock && k.M.Recording() { // every path that locks a csd emits EvLock
		k.recordCSD(emu.EvCSDLock, csd, cpu)
	}
}

// recordCSD records a csd's lock or unlock (emu.EvCSDLock, EvCSDUnlock).
func (k *Kernel) recordCSD(kind emu.EventKind, csd *CSD, cpu int) {
	k.M.Emit(cpu, &emu.Event{Kind: kind, CSD: uint64(csd.ID), Func: csd.Func.PS(), CSDType: csd.Type()})
}

// emitTo hands e to every sink; the invariant validator reads it in
// place.
func (k *Kernel) emitTo(e *Event) {
	for _, s := range k.Events {
		if v, ok := s.(*Validator); ok {
			v.check(e)
		} else {
			s.KernelEvent(*e)
		}
	}
}
