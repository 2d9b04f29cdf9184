package report

import (
	"fmt"

	"github.com/xcallsh/xcallsh/emu"
)

// EventLog follows the events of a run, in the order they happen. It
// computes
//
//   - the trace hash of the summary line: FNV-1a (64 bits) over the typed
//     encoding of every event (AppendEvent), so two runs with the same hash
//     recorded the same events, field for field;
//   - optionally, a 32-bit checksum per event, FNV-1a over its encoding,
//     which a report stores (folded into at most MaxSums 16-bit entries,
//     see SumsOf);
//   - optionally, while a report replays, a comparison with the report's
//     checksums, so a Divergence can be named: the first differing event,
//     its index, time and description.
//
// The events are the typed record (emu.Event), and nothing else: the
// kernel log's lines are its emu.EvPrintk events. It is an emu.Recorder;
// boot resets it (a run's events start at its last boot).
type EventLog struct {
	h uint64
	n int
	// Keep records per-event checksums, for writing a report (Sums).
	Keep bool
	sums []uint32 // per-event checksums, while Keep and n <= MaxKeptSums
	buf  []byte   // the encoding of the event at hand

	want  *Sums       // the report being replayed, or nil
	block blockAcc    // the block of events being compared
	diff  *Divergence // the first difference found
}

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
	fnvOffset32 = 2166136261
	fnvPrime32  = 16777619
	// MaxKeptSums bounds the memory a report recording may use (64 MiB);
	// events past it are covered by the trace hash only.
	MaxKeptSums = 1 << 24
)

// NewEventLog returns an empty log.
func NewEventLog() *EventLog {
	l := &EventLog{}
	l.Reset()
	return l
}

// Reset starts over (a machine booted again).
func (l *EventLog) Reset() {
	l.h, l.n, l.sums, l.diff = fnvOffset64, 0, l.sums[:0], nil
	l.block = blockAcc{}
}

// Hash is the trace hash of the events so far.
func (l *EventLog) Hash() uint64 { return l.h }

// Events is the number of events so far.
func (l *EventLog) Events() int { return l.n }

// Sums folds the kept per-event checksums into a report's list.
func (l *EventLog) Sums() Sums { return SumsOf(l.sums, l.n) }

// Expect makes the log compare every event with a report's checksums as
// it comes (Finish then names the first difference).
func (l *EventLog) Expect(want *Sums) { l.want = want }

// Record is emu.Recorder: one typed event.
func (l *EventLog) Record(e *emu.Event) {
	l.buf = AppendEvent(l.buf[:0], e)
	l.add(l.buf, e)
}

// add folds the encoding of e into the hash and, when asked, keeps or
// compares its checksum.
func (l *EventLog) add(enc []byte, e *emu.Event) {
	h := l.h
	for _, c := range enc {
		h = (h ^ uint64(c)) * fnvPrime64
	}
	l.h = h
	l.n++
	if l.Keep || l.want != nil {
		sum := uint32(fnvOffset32)
		for _, c := range enc {
			sum = (sum ^ uint32(c)) * fnvPrime32
		}
		if l.Keep && len(l.sums) < MaxKeptSums {
			l.sums = append(l.sums, sum)
		}
		if l.want != nil && l.diff == nil {
			l.compare(e, sum)
		}
	}
}

// Divergence is where a replay first differs from its report.
type Divergence struct {
	first, last int // 1-based event numbers of the differing block
	t           int64
	text        string // the replay's event #first described, "" if the replay has none
	ended       bool   // the replay has fewer events than the report
}

func (d *Divergence) String() string {
	if d.ended {
		return fmt.Sprintf("the replay ended after event #%d; the report has more", d.first-1)
	}
	where := fmt.Sprintf("event #%d", d.first)
	if d.last > d.first {
		where = fmt.Sprintf("events #%d-#%d (the report keeps one checksum per %d events), starting with", d.first, d.last, d.last-d.first+1)
	}
	return fmt.Sprintf("first difference at %s, %s in the replay:\n  %s", where, fmt.Sprintf("%d.%09ds", d.t/1e9, d.t%1e9), d.text)
}

// blockAcc accumulates the checksum of one block of events.
type blockAcc struct {
	h     uint64
	n     int
	first int       // 1-based number of the block's first event
	ev    emu.Event // a copy of the block's first event (its slices are not reused: emu.Recorder)
}

func (b *blockAcc) add(idx int, e *emu.Event, sum uint32) {
	if b.n == 0 {
		b.h, b.first, b.ev = fnvOffset64, idx, *e
	}
	b.h = mixSum(b.h, sum)
	b.n++
}

func mixSum(h uint64, sum uint32) uint64 {
	for i := 0; i < 4; i++ {
		h ^= uint64(sum & 0xff)
		h *= fnvPrime64
		sum >>= 8
	}
	return h
}

func fold16(h uint64) uint16 { return uint16(h ^ h>>16 ^ h>>32 ^ h>>48) }

// compare checks one replayed event against the report's checksums.
func (l *EventLog) compare(e *emu.Event, sum uint32) {
	w := l.want
	if l.n > w.Events {
		l.diff = &Divergence{first: l.n, last: l.n, t: e.T, text: Describe(e) + "\n  (the report ends before this event)"}
		return
	}
	l.block.add(l.n, e, sum)
	if l.block.n == l.expected(l.block.first) {
		l.checkBlock()
	}
}

// expected is the number of events in the report's block starting at
// event first; 0 when the report keeps no checksum for it.
func (l *EventLog) expected(first int) int {
	w := l.want
	k := (first - 1) / w.Block
	if k >= len(w.Entries) {
		return 0
	}
	return min(w.Block, w.Events-k*w.Block)
}

// checkBlock compares the completed block with the report's entry.
func (l *EventLog) checkBlock() {
	b := &l.block
	k := (b.first - 1) / l.want.Block
	if k < len(l.want.Entries) && l.want.Entries[k] != fold16(b.h) {
		l.diff = &Divergence{first: b.first, last: b.first + b.n - 1, t: b.ev.T, text: Describe(&b.ev)}
	}
	l.block = blockAcc{}
}

// Finish ends a comparison and returns the first difference, or nil.
func (l *EventLog) Finish() *Divergence {
	if l.want == nil {
		return nil
	}
	if l.diff == nil && l.n < l.want.Events {
		l.diff = &Divergence{first: l.n + 1, ended: true}
	}
	return l.diff
}

// Sums is the checksum list of a report: one 16-bit entry per block
// of `block` events (a power of two, the smallest that keeps the list at
// most MaxSums entries long).
type Sums struct {
	Events  int      // events in the run
	Block   int      // events per entry: a power of two
	Entries []uint16 // one checksum per block
}

const MaxSums = 512

// SumsOf folds per-event checksums into a report's list.
func SumsOf(sums []uint32, events int) Sums {
	r := Sums{Events: events, Block: 1}
	for (events+r.Block-1)/r.Block > MaxSums {
		r.Block *= 2
	}
	if len(sums) < events {
		// Too many events to keep them all: only the hash covers the rest.
		events = len(sums) - len(sums)%r.Block
	}
	for i := 0; i < events; i += r.Block {
		h := uint64(fnvOffset64)
		for _, s := range sums[i:min(i+r.Block, events)] {
			h = mixSum(h, s)
		}
		r.Entries = append(r.Entries, fold16(h))
	}
	return r
}
