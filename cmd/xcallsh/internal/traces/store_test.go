package traces

import (
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
)

// storeRecord is a native-memory record on x86-4: CPU 0 queues a csd on
// CPU 1 whose llist_add stays buffered 100 ns (no barrier: its IPI, sent
// at 12, is taken at 40, before the store is visible at 110); then one on
// CPU 2 buffered 50 ns at 200 that weak_wrmsr_fence drains at 210, before
// its IPI.
func storeRecord(t *testing.T) *Activity {
	a := newTestActivity(t, "x86-4")
	feed(a,
		sw(0, 0, "swapper/0", 0, "caller", 100),
		emu.Event{T: 5, CPU: 0, Comm: "caller", PID: 100, Kind: emu.EvCSDQueue, CSD: 3, Func: "f", Target: 1},
		emu.Event{T: 10, CPU: 0, Comm: "caller", PID: 100, Kind: emu.EvStoreBuffered, Name: "llist_add", CSD: 3, Func: "f", Target: 1, Delay: 100},
		emu.Event{T: 12, CPU: 0, Comm: "caller", PID: 100, Kind: emu.EvIPISend, Targets: []int{1}, IDs: []uint64{5}, Vector: cfs},
		emu.Event{T: 30, CPU: 1, Kind: emu.EvIPIDeliver, ID: 5, Vector: cfs, Source: 0},
		emu.Event{T: 40, CPU: 1, Kind: emu.EvIRQEntry, Vector: cfs, IDs: []uint64{5}},
		emu.Event{T: 60, CPU: 1, Kind: emu.EvIRQExit, Vector: cfs},
		emu.Event{T: 195, CPU: 0, Comm: "caller", PID: 100, Kind: emu.EvCSDQueue, CSD: 4, Func: "g", Target: 2},
		emu.Event{T: 200, CPU: 0, Comm: "caller", PID: 100, Kind: emu.EvStoreBuffered, Name: "llist_add", CSD: 4, Func: "g", Target: 2, Delay: 50},
		emu.Event{T: 210, CPU: 0, Comm: "caller", PID: 100, Kind: emu.EvStoreVisible, Name: "llist_add", CSD: 4, Func: "g", Target: 2, Site: "weak_wrmsr_fence", Delay: 40},
		emu.Event{T: 210, CPU: 0, Comm: "caller", PID: 100, Kind: emu.EvIPISend, Targets: []int{2}, IDs: []uint64{6}, Vector: cfs},
		emu.Event{T: 230, CPU: 2, Kind: emu.EvIPIDeliver, ID: 6, Vector: cfs, Source: 0},
		emu.Event{T: 240, CPU: 2, Kind: emu.EvIRQEntry, Vector: cfs, IDs: []uint64{6}},
		emu.Event{T: 260, CPU: 2, Kind: emu.EvIRQExit, Vector: cfs},
		sw(300, 0, "caller", 100, "swapper/0", 0),
	)
	return a
}

// Perfetto: a store-buffer track for CPU 0 with a "store buffered" slice
// per store, from the store to its visibility (its delay's end, or the
// barrier), naming the IPI that overtook the first; a "store visible"
// instant on the reading CPU at that time.
func TestStoreBufferedPerfetto(t *testing.T) {
	a := storeRecord(t)
	got := jsonOf(t, a, 400)
	wantLines(t, got,
		`{"ph":"M","name":"thread_name","pid":1,"tid":3,"args":{"name":"CPU 3"}}`,
		`{"ph":"M","name":"thread_name","pid":1,"tid":4,"args":{"name":"CPU 0 store buffer"}}`,
		`{"ph":"M","name":"thread_sort_index","pid":1,"tid":4,"args":{"sort_index":0}}`,
		`{"ph":"X","name":"store buffered","cat":"memory","pid":1,"tid":4,"ts":0.010,"dur":0.100,"args":{"stores":"llist_add","csd":"`+csdPtr(3)+`","func":"f","to":"1","visible":"0.000000110s","by":"its delay ran out","overtaken_by_ipi":"5"}}`,
		`{"ph":"i","s":"t","name":"store visible","cat":"memory","pid":1,"tid":1,"ts":0.110,"args":{"from":"0","stores":"llist_add","csd":"`+csdPtr(3)+`","by":"its delay ran out"}}`,
		`{"ph":"X","name":"store buffered","cat":"memory","pid":1,"tid":4,"ts":0.200,"dur":0.010,"args":{"stores":"llist_add","csd":"`+csdPtr(4)+`","func":"g","to":"2","visible":"0.000000210s","by":"weak_wrmsr_fence"}}`,
		`{"ph":"i","s":"t","name":"store visible","cat":"memory","pid":1,"tid":2,"ts":0.210,"args":{"from":"0","stores":"llist_add","csd":"`+csdPtr(4)+`","by":"weak_wrmsr_fence"}}`,
	)
	noLine(t, got, `"CPU 0 store buffer (2)"`)
	checkFile(t, got, "x86-4", 4)
}

// Stores that overlap on one CPU go on separate lanes (tracks), so that
// each track's slices nest.
func TestStoreBufferedLanes(t *testing.T) {
	a := newTestActivity(t, "x86-4")
	feed(a,
		emu.Event{T: 10, CPU: 0, Kind: emu.EvStoreBuffered, Name: "llist_add", CSD: 1, Target: 1, Delay: 100},
		emu.Event{T: 20, CPU: 0, Kind: emu.EvStoreBuffered, Name: "llist_add", CSD: 2, Target: 2, Delay: 200},
		emu.Event{T: 150, CPU: 0, Kind: emu.EvStoreBuffered, Name: "llist_add", CSD: 3, Target: 3, Delay: 10},
	)
	got := jsonOf(t, a, 400)
	wantLines(t, got,
		`{"ph":"M","name":"thread_name","pid":1,"tid":4,"args":{"name":"CPU 0 store buffer"}}`,
		`{"ph":"M","name":"thread_name","pid":1,"tid":8,"args":{"name":"CPU 0 store buffer (2)"}}`,
	)
	for _, w := range []string{`"tid":4,"ts":0.010,"dur":0.100`, `"tid":8,"ts":0.020,"dur":0.200`, `"tid":4,"ts":0.150,"dur":0.010`} {
		if !strings.Contains(got, w) {
			t.Errorf("no slice %s in\n%s", w, got)
		}
	}
}

// The timeline: a store row under CPU 0 (b buffered, v visible) and a
// line per store, naming the IPI that overtook it or the barrier.
func TestStoreBufferedTimeline(t *testing.T) {
	a := storeRecord(t)
	got := a.Timeline(0, 360, 360, nil)
	wantLines(t, got,
		"CPU0    ==>=======================================>=================............",
		"  store   bbbbbbbbbbbbbbbbbbbbv                 bbv", // 5 ns a column: 10..110, 200..210
		"CPU1    ..~~~~~~HHHH............................................................",
		"CPU2    ..........................................~~~~~~HHHH....................",
		"        store: b buffered (the other CPUs cannot see it)  v visible",
		"        CPU0 llist_add > CPU1  +10ns..+110ns, overtaken by IPI +12ns",
		"        CPU0 llist_add > CPU2  +200ns..+210ns, drained by weak_wrmsr_fence",
	)
	// Without stores, no store row, legend or line.
	plain := newTestActivity(t, "x86-4")
	feed(plain, sw(0, 0, "swapper/0", 0, "caller", 100))
	noLine(t, plain.Timeline(0, 360, 360, nil), "store")
}

// An unlock of an ASYNC csd names no reader (Target -1): its line names
// none, and no CPU's track gets its "store visible".
func TestStoreBufferedNoReader(t *testing.T) {
	a := newTestActivity(t, "x86-4")
	feed(a,
		emu.Event{T: 10, CPU: 1, Kind: emu.EvStoreBuffered, Name: "csd_unlock", CSD: 2, Func: "a", Target: -1, Delay: 100},
	)
	wantLines(t, a.Timeline(0, 360, 360, nil), "        CPU1 csd_unlock  +10ns..+110ns")
	got := jsonOf(t, a, 400)
	if !strings.Contains(got, `"tid":5,"ts":0.010,"dur":0.100,"args":{"stores":"csd_unlock","csd":"`+csdPtr(2)+`","func":"a","to":"-1"`) {
		t.Errorf("no unlock slice on CPU 1's store buffer in\n%s", got)
	}
	noLine(t, got, `"store visible"`)
}
