package emu

// Store visibility: the one scheduling decision of a native memory model.
//
// Under a native memory model (machines' [memory] model = "native") the
// kernel's stores that announce work to another CPU sit in the storing
// CPU's store buffer for a while before the other CPUs can see them; the
// kernel layer (xcall) keeps the buffered stores, the engine only decides
// how long each one stays there. The decision is drawn from the same stream
// as ties and jitter, so explore finds, records and shrinks it like any
// other.

// StoreDelay is how long, 0..max ns, a store just executed stays in its
// CPU's store buffer before every other CPU sees it. A canonical machine
// (seed 0, no replay list) draws nothing and returns 0: every store is
// visible at once, so a seed-0 run under a native memory model is the
// sequentially consistent run, byte for byte.
func (m *Machine) StoreDelay(max int64) int64 {
	if max <= 0 || m.sched.canonical() {
		return 0
	}
	return m.sched.jitter(max)
}
