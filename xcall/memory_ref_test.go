package xcall

import "github.com/xcallsh/xcallsh/emu"

// refStores is the oracle for memory.go's store buffers: their first
// implementation, one list of every buffered store in the order they were
// buffered, scanned whole by each operation. memory.go indexes the same
// stores by CPU and by csd; the decisions (what is hidden from whom and
// until when, what a barrier drains and in which order) must be the same.
type refStores struct {
	k    *Kernel
	list []bufStore
}

// UseReferenceStores makes k keep its buffered stores in refStores instead
// of memory.go's storeBuffers. Call it before anything runs.
func UseReferenceStores(k *Kernel) { k.memOracle = &refStores{k: k} }

// sync keeps the hooks' test (storeBuffers.n) nonzero while the list
// holds a store, as the list's length was.
func (r *refStores) sync() { r.k.sbuf.n = len(r.list) }

func (r *refStores) bufferQueueing(c *emu.Context, csd *CSD, target int, first bool) {
	k := r.k
	r.retire(c.CPU, csd)
	d := int64(0)
	if first {
		d = k.M.StoreDelay(k.storeBound())
	} else {
		for _, b := range r.list {
			if !b.unlock && b.cpu == c.CPU && b.to == target {
				d = max(d, b.at-k.M.Now())
			}
		}
	}
	if d > 0 {
		r.list = append(r.list, bufStore{csd: csd, cpu: c.CPU, at: k.M.Now() + d, to: target})
		r.sync()
		if k.M.Recording() {
			k.M.Emit(c.CPU, &emu.Event{Kind: emu.EvStoreBuffered, Name: storeQueueing, CSD: uint64(csd.ID),
				Func: csd.Func.PS(), Target: target, Delay: d})
		}
	}
}

func (r *refStores) retire(cpu int, csd *CSD) {
	now, j := r.k.M.Now(), 0
	for _, b := range r.list {
		switch {
		case b.at <= now || !b.unlock && b.csd == csd:
			continue
		case b.unlock && b.cpu == cpu:
			r.k.drained(&b, "llist_add")
			continue
		}
		r.list[j] = b
		j++
	}
	clear(r.list[j:])
	r.list = r.list[:j]
	r.sync()
}

func (r *refStores) hidden(csd *CSD, cpu int) bool {
	now := r.k.M.Now()
	for _, b := range r.list {
		if b.csd == csd && !b.unlock {
			return b.cpu != cpu && b.at > now
		}
	}
	return false
}

func (r *refStores) drainBy(cpu int, barrier string) {
	now, j := r.k.M.Now(), 0
	for _, b := range r.list {
		if b.cpu != cpu {
			r.list[j] = b
			j++
		} else if b.at > now {
			r.k.drained(&b, barrier)
		}
	}
	clear(r.list[j:])
	r.list = r.list[:j]
	r.sync()
}

func (r *refStores) bufferUnlock(c *emu.Context, csd *CSD, d int64) {
	r.list = append(r.list, bufStore{csd: csd, cpu: c.CPU, at: r.k.M.Now() + d, to: csd.src, unlock: true})
	r.sync()
}

func (r *refStores) unlockHidden(csd *CSD, cpu int) int64 {
	now := r.k.M.Now()
	for _, b := range r.list {
		if b.unlock && b.csd == csd && b.cpu != cpu && b.at > now {
			return b.at
		}
	}
	return 0
}
