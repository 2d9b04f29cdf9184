package traces

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/traces/tracetest"
	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/irqchip"
	"github.com/xcallsh/xcallsh/machines"
)

// The builder is tested on synthetic records: sequences of events as the
// model emits them (emu/record.go), with the kernel's order of events.

// newTestActivity is an Activity on a built-in machine, fed by hand.
func newTestActivity(t *testing.T, machine string) *Activity {
	t.Helper()
	spec, err := machines.Builtin(machine)
	if err != nil {
		t.Fatal(err)
	}
	chip, err := irqchip.New(string(spec.Arch), spec.IRQChip, spec.CPUs)
	if err != nil {
		t.Fatal(err)
	}
	a := New()
	a.reset(spec, chip, 7, spec.CPUs)
	return a
}

// feed records events in order, numbering them as Emit does.
func feed(a *Activity, evs ...emu.Event) {
	for i := range evs {
		e := evs[i]
		e.Seq = uint64(i + 1)
		if e.Flags == [5]byte{} {
			e.Flags = [5]byte{'.', '.', '.', '.', '.'}
		}
		if e.Comm == "" {
			e.Comm = "<idle>"
		}
		a.Record(&e)
	}
}

func sw(t int64, cpu int, prev string, prevPID int, next string, nextPID int) emu.Event {
	return emu.Event{T: t, CPU: cpu, Kind: emu.EvSchedSwitch, PrevComm: prev, PrevPID: prevPID, PrevState: "R", NextComm: next, NextPID: nextPID}
}

func jsonOf(t *testing.T, a *Activity, now int64) string {
	t.Helper()
	var b bytes.Buffer
	if err := a.WriteJSON(&b, now, 0xabc); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// wantLines checks that every line of want is a line of got, in order.
func wantLines(t *testing.T, got string, want ...string) {
	t.Helper()
	lines := strings.Split(got, "\n")
	i := 0
	for _, w := range want {
		for i < len(lines) && strings.TrimSuffix(lines[i], ",") != w {
			i++
		}
		if i == len(lines) {
			t.Fatalf("missing (or out of order) line\n%s\nin\n%s", w, got)
		}
	}
}

func noLine(t *testing.T, got, sub string) {
	t.Helper()
	if strings.Contains(got, sub) {
		t.Errorf("unexpected %q in\n%s", sub, got)
	}
}

// The x86 vectors the tests' records carry.
const (
	cfs = irqchip.CallFunctionSingleVector
	cf  = irqchip.CallFunctionVector
)

// A mask IPI to CPUs 1 and 2: one arrow per id, each from the send to the
// handler whose irq_entry lists that id; the csd function nests in it.
func TestFlowsExact(t *testing.T) {
	a := newTestActivity(t, "x86-4")
	feed(a,
		sw(0, 0, "swapper/0", 0, "caller", 100),
		emu.Event{T: 10, CPU: 0, Comm: "caller", PID: 100, Kind: emu.EvIPISend, Targets: []int{1, 2}, IDs: []uint64{5, 6}, Vector: cf},
		emu.Event{T: 30, CPU: 2, Kind: emu.EvIPIDeliver, ID: 6, Vector: cf, Source: 0},
		emu.Event{T: 30, CPU: 1, Kind: emu.EvIPIDeliver, ID: 5, Vector: cf, Source: 0},
		emu.Event{T: 30, CPU: 2, Kind: emu.EvIRQEntry, Vector: cf, IDs: []uint64{6}},
		emu.Event{T: 45, CPU: 2, Kind: emu.EvCSDFuncEntry, CSD: 3, Func: "do_nothing", CSDType: 0x10},
		emu.Event{T: 50, CPU: 2, Kind: emu.EvCSDFuncExit, CSD: 3, Func: "do_nothing", CSDType: 0x10},
		emu.Event{T: 60, CPU: 2, Kind: emu.EvIRQExit, Vector: cf},
		emu.Event{T: 70, CPU: 1, Kind: emu.EvIRQEntry, Vector: cf, IDs: []uint64{5}},
		emu.Event{T: 90, CPU: 1, Kind: emu.EvIRQExit, Vector: cf},
		sw(100, 0, "caller", 100, "swapper/0", 0),
	)
	got := jsonOf(t, a, 200)
	wantLines(t, got,
		`{"ph":"X","name":"caller","cat":"task","pid":1,"tid":0,"ts":0.000,"dur":0.100,"args":{"pid":"100"}}`,
		`{"ph":"i","s":"t","name":"ipi_send","cat":"ipi","pid":1,"tid":0,"ts":0.010,"args":{"task":"caller-100","flags":".....","targets":"1,2","vector":"CALL_FUNCTION_VECTOR","ids":"5,6","site":""}}`,
		`{"ph":"s","name":"ipi","cat":"ipi","id":5,"pid":1,"tid":0,"ts":0.0105,"args":{"to":1,"vector":"CALL_FUNCTION_VECTOR"}}`,
		`{"ph":"s","name":"ipi","cat":"ipi","id":6,"pid":1,"tid":0,"ts":0.0105,"args":{"to":2,"vector":"CALL_FUNCTION_VECTOR"}}`,
		`{"ph":"X","name":"sysvec_call_function","cat":"irq","pid":1,"tid":2,"ts":0.030,"dur":0.030,"args":{"vector":"CALL_FUNCTION_VECTOR"}}`,
		`{"ph":"f","bp":"e","name":"ipi","cat":"ipi","id":6,"pid":1,"tid":2,"ts":0.0305}`,
		`{"ph":"X","name":"do_nothing","cat":"csd","pid":1,"tid":2,"ts":0.045,"dur":0.005,"args":{"csd":"`+csdPtr(3)+`","type":"SYNC"}}`,
		`{"ph":"X","name":"sysvec_call_function","cat":"irq","pid":1,"tid":1,"ts":0.070,"dur":0.020,"args":{"vector":"CALL_FUNCTION_VECTOR"}}`,
		`{"ph":"f","bp":"e","name":"ipi","cat":"ipi","id":5,"pid":1,"tid":1,"ts":0.0705}`,
	)
	checkFile(t, got, "x86-4", 4)
}

func checkFile(t *testing.T, doc, machine string, cpus int) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "t.json")
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	tracetest.CheckPerfetto(t, file, machine, cpus)
}

// A dropped IPI has no arrow, even when a later handler on its target
// takes another IPI: an "IPI dropped" instant on the target; the timeline
// draws it lost (X on both sides, a legend line), not late.
func TestDropNoArrow(t *testing.T) {
	a := newTestActivity(t, "x86-4")
	feed(a,
		sw(0, 0, "swapper/0", 0, "caller", 100),
		emu.Event{T: 10, CPU: 0, Comm: "caller", PID: 100, Kind: emu.EvIPISend, Targets: []int{3}, IDs: []uint64{1}, Vector: cfs},
		emu.Event{T: 10, CPU: 3, Kind: emu.EvIPIDrop, ID: 1, Vector: cfs, Source: 0, Reason: emu.DropFault},
		emu.Event{T: 5000, CPU: 0, Comm: "caller", PID: 100, Kind: emu.EvIPISend, Targets: []int{3}, IDs: []uint64{2}, Vector: cfs},
		emu.Event{T: 5020, CPU: 3, Kind: emu.EvIPIDeliver, ID: 2, Vector: cfs, Source: 0},
		emu.Event{T: 5020, CPU: 3, Kind: emu.EvIRQEntry, Vector: cfs, IDs: []uint64{2}},
		emu.Event{T: 5040, CPU: 3, Kind: emu.EvIRQExit, Vector: cfs},
	)
	got := jsonOf(t, a, 6000)
	wantLines(t, got,
		`{"ph":"i","s":"t","name":"IPI dropped","cat":"ipi","pid":1,"tid":3,"ts":0.010,"args":{"task":"<idle>-0","flags":".....","id":"1","from":"0","vector":"CALL_FUNCTION_SINGLE_VECTOR","reason":"fault"}}`,
		`{"ph":"s","name":"ipi","cat":"ipi","id":2,"pid":1,"tid":0,"ts":5.0005,"args":{"to":3,"vector":"CALL_FUNCTION_SINGLE_VECTOR"}}`,
		`{"ph":"f","bp":"e","name":"ipi","cat":"ipi","id":2,"pid":1,"tid":3,"ts":5.0205}`,
	)
	noLine(t, got, `"id":1,`)
	checkFile(t, got, "x86-4", 4)

	tl := a.Timeline(0, 100, 6000, nil)
	wantLines(t, tl,
		"timeline 0.000000000s .. 0.000000100s, 2ns per column",
		"CPU0    =====X============================================",
		"CPU3    .....X............................................",
		"        X IPI lost: dropped, never delivered (sender and target)",
		"        CPU0 > CPU3  sent +10ns, LOST +10ns (dropped)",
	)
	noLine(t, tl, "CPU3  sent +4.99us")
	tl = a.Timeline(0, 6000, 6000, nil)
	wantLines(t, tl,
		"        CPU0 > CPU3  sent +10ns, LOST +10ns (dropped)",
		"        CPU0 > CPU3  sent +5us, taken +5.02us by sysvec_call_function_single",
	)
}

// A delayed IPI's arrow ends at its real delivery, not one latency after
// the send.
func TestDelayedArrowEnd(t *testing.T) {
	a := newTestActivity(t, "arm64-8")
	feed(a,
		sw(0, 4, "swapper/4", 0, "caller", 100),
		emu.Event{T: 100, CPU: 4, Comm: "caller", PID: 100, Kind: emu.EvIPISend, Targets: []int{6}, IDs: []uint64{9}, Vector: irqchip.IPICallFunc},
		emu.Event{T: 100, CPU: 4, Comm: "caller", PID: 100, Kind: emu.EvIPIDelay, ID: 9, Vector: irqchip.IPICallFunc, Target: 6, Delay: 250000},
		emu.Event{T: 250120, CPU: 6, Kind: emu.EvIPIDeliver, ID: 9, Vector: irqchip.IPICallFunc, Source: 4},
		emu.Event{T: 250120, CPU: 6, Kind: emu.EvIRQEntry, Vector: irqchip.IPICallFunc, IDs: []uint64{9}},
		emu.Event{T: 250200, CPU: 6, Kind: emu.EvIRQExit, Vector: irqchip.IPICallFunc},
	)
	got := jsonOf(t, a, 300000)
	wantLines(t, got,
		`{"ph":"i","s":"t","name":"IPI delayed","cat":"ipi","pid":1,"tid":4,"ts":0.100,"args":{"task":"caller-100","flags":".....","id":"9","to":"6","delay_ns":"250000"}}`,
		`{"ph":"s","name":"ipi","cat":"ipi","id":9,"pid":1,"tid":4,"ts":0.1005,"args":{"to":6,"vector":"IPI_CALL_FUNC"}}`,
		`{"ph":"X","name":"do_handle_IPI","cat":"irq","pid":1,"tid":6,"ts":250.120,"dur":0.080,"args":{"vector":"IPI_CALL_FUNC","reason":"Function call interrupts"}}`,
		`{"ph":"f","bp":"e","name":"ipi","cat":"ipi","id":9,"pid":1,"tid":6,"ts":250.1205}`,
	)
	checkFile(t, got, "arm64-8", 8)
	wantLines(t, a.Timeline(0, 300000, 300000, nil),
		"        CPU4 > CPU6  sent +100ns, delayed 250us, taken +250.12us")
}

// Two IPIs merged into one pending vector: both arrows end at the one
// handler that took them; the merge is an instant on the target.
func TestMergedArrows(t *testing.T) {
	a := newTestActivity(t, "x86-4")
	feed(a,
		sw(0, 0, "swapper/0", 0, "a", 100),
		sw(0, 1, "swapper/1", 0, "b", 101),
		sw(0, 2, "swapper/2", 0, "stall", 102),
		emu.Event{T: 1, CPU: 2, Kind: emu.EvIRQsOff},
		emu.Event{T: 10, CPU: 0, Kind: emu.EvIPISend, Targets: []int{2}, IDs: []uint64{1}, Vector: cfs},
		emu.Event{T: 12, CPU: 1, Kind: emu.EvIPISend, Targets: []int{2}, IDs: []uint64{2}, Vector: cfs},
		emu.Event{T: 30, CPU: 2, Kind: emu.EvIPIDeliver, ID: 1, Vector: cfs, Source: 0},
		emu.Event{T: 32, CPU: 2, Kind: emu.EvIPIMerge, ID: 2, Vector: cfs, Source: 1},
		emu.Event{T: 90, CPU: 2, Kind: emu.EvIRQsOn},
		emu.Event{T: 90, CPU: 2, Kind: emu.EvIRQEntry, Vector: cfs, IDs: []uint64{1, 2}},
		emu.Event{T: 95, CPU: 2, Kind: emu.EvIRQExit, Vector: cfs},
	)
	got := jsonOf(t, a, 100)
	wantLines(t, got,
		`{"ph":"X","name":"irqs off","cat":"irqs-off","pid":1,"tid":2,"ts":0.001,"dur":0.089}`,
		`{"ph":"i","s":"t","name":"IPI merged","cat":"ipi","pid":1,"tid":2,"ts":0.032,"args":{"task":"<idle>-0","flags":".....","id":"2","from":"1","vector":"CALL_FUNCTION_SINGLE_VECTOR"}}`,
		`{"ph":"f","bp":"e","name":"ipi","cat":"ipi","id":1,"pid":1,"tid":2,"ts":0.0905}`,
		`{"ph":"f","bp":"e","name":"ipi","cat":"ipi","id":2,"pid":1,"tid":2,"ts":0.0905}`,
	)
	checkFile(t, got, "x86-4", 4)
	wantLines(t, a.Timeline(0, 100, 100, nil),
		"CPU2    #####!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!HHH==",
		"        CPU1 > CPU2  sent +12ns, merged, taken +90ns")
}

// cpu_down of CPU 1 run by a task on CPU 0: cpuhp slices on the CPU that
// runs each callback, the offline period on CPU 1's track (the stopper
// running there is split at it and continues inside it), the hotplug task's
// own slice, and a CSD-lock wait on the waiter named after the csd.
func TestHotplugSlices(t *testing.T) {
	a := newTestActivity(t, "x86-4")
	feed(a,
		sw(0, 0, "swapper/0", 0, "offline", 100),
		emu.Event{T: 10, CPU: 0, Kind: emu.EvCpuhpEnter, Target: 1, State: 180, StateName: "CPUHP_AP_ACTIVE", Fn: "sched_cpu_deactivate", Dest: 0},
		emu.Event{T: 20, CPU: 0, Kind: emu.EvCpuhpExit, Target: 1, State: 180, StateName: "CPUHP_AP_ACTIVE", Ret: 0},
		sw(30, 1, "swapper/1", 0, "migration/1", 21),
		emu.Event{T: 40, CPU: 1, Kind: emu.EvCpuhpEnter, Target: 1, State: 120, StateName: "CPUHP_AP_SMPCFD_DYING", Fn: "smpcfd_dying_cpu", Dest: 0},
		emu.Event{T: 50, CPU: 1, Kind: emu.EvCpuhpExit, Target: 1, State: 120, StateName: "CPUHP_AP_SMPCFD_DYING", Ret: 0},
		emu.Event{T: 55, CPU: 1, Kind: emu.EvCPUOffline, Target: 1},
		sw(60, 1, "migration/1", 21, "swapper/1", 0),
		emu.Event{T: 70, CPU: 0, Kind: emu.EvCSDWaitBegin, CSD: 4, Target: 1, Func: "do_sync_core"},
		emu.Event{T: 80, CPU: 0, Kind: emu.EvCSDWaitEnd, CSD: 4, Target: 1, Func: "do_sync_core"},
		sw(90, 0, "offline", 100, "swapper/0", 0),
		emu.Event{T: 200, CPU: 0, Kind: emu.EvCPUOnline, Target: 1},
	)
	got := jsonOf(t, a, 300)
	wantLines(t, got,
		`{"ph":"X","name":"offline","cat":"task","pid":1,"tid":0,"ts":0.000,"dur":0.090,"args":{"pid":"100"}}`,
		`{"ph":"X","name":"CPUHP_AP_ACTIVE","cat":"cpuhp","pid":1,"tid":0,"ts":0.010,"dur":0.010,"args":{"cpu":"1","state":"180","fn":"sched_cpu_deactivate","target":"0","ret":"0"}}`,
		`{"ph":"X","name":"migration/1","cat":"task","pid":1,"tid":1,"ts":0.030,"dur":0.025,"args":{"pid":"21"}}`,
		`{"ph":"X","name":"CPUHP_AP_SMPCFD_DYING","cat":"cpuhp","pid":1,"tid":1,"ts":0.040,"dur":0.010,"args":{"cpu":"1","state":"120","fn":"smpcfd_dying_cpu","target":"0","ret":"0"}}`,
		`{"ph":"X","name":"offline","cat":"offline","pid":1,"tid":1,"ts":0.055,"dur":0.145}`,
		`{"ph":"X","name":"migration/1","cat":"task","pid":1,"tid":1,"ts":0.055,"dur":0.005,"args":{"pid":"21"}}`,
		`{"ph":"X","name":"csd_lock_wait `+csdPtr(4)+`","cat":"csd-wait","pid":1,"tid":0,"ts":0.070,"dur":0.010,"args":{"csd":"`+csdPtr(4)+`","func":"do_sync_core","cpu":"1"}}`,
	)
	wantLines(t, a.Timeline(0, 300, 300, nil),
		"timeline 0.000000000s .. 0.000000300s, 5ns per column",
		"CPU0    ==============ww==..........................................",
		"CPU1    ......=====-----------------------------....................",
	)
}

// Slices still nest when one ends under another still open: interrupts
// left off at a task switch continue inside the next task.
func TestSplitNesting(t *testing.T) {
	a := newTestActivity(t, "x86-4")
	feed(a,
		sw(0, 0, "swapper/0", 0, "a", 100),
		emu.Event{T: 10, CPU: 0, Kind: emu.EvIRQsOff},
		sw(20, 0, "a", 100, "b", 101),
		emu.Event{T: 30, CPU: 0, Kind: emu.EvIRQsOn},
		emu.Event{T: 40, CPU: 0, Kind: emu.EvIPISend, Targets: []int{1}, IDs: []uint64{1}, Vector: cfs},
		emu.Event{T: 41, CPU: 1, Kind: emu.EvIRQEntry, Vector: cfs, IDs: []uint64{1}},
	)
	got := jsonOf(t, a, 50)
	wantLines(t, got,
		`{"ph":"X","name":"a","cat":"task","pid":1,"tid":0,"ts":0.000,"dur":0.020,"args":{"pid":"100"}}`,
		`{"ph":"X","name":"irqs off","cat":"irqs-off","pid":1,"tid":0,"ts":0.010,"dur":0.010}`,
		`{"ph":"X","name":"b","cat":"task","pid":1,"tid":0,"ts":0.020,"dur":0.030,"args":{"pid":"101"}}`,
		`{"ph":"X","name":"irqs off","cat":"irqs-off","pid":1,"tid":0,"ts":0.020,"dur":0.010}`,
	)
	checkFile(t, got, "x86-4", 4)
}

// The same record gives the same bytes.
func TestJSONDeterministic(t *testing.T) {
	run := func() string {
		a := newTestActivity(t, "x86-4")
		feed(a,
			sw(0, 0, "swapper/0", 0, "a", 100),
			emu.Event{T: 10, CPU: 0, Kind: emu.EvIPISend, Targets: []int{1, 2, 3}, IDs: []uint64{1, 2, 3}, Vector: cf},
			emu.Event{T: 30, CPU: 3, Kind: emu.EvIRQEntry, Vector: cf, IDs: []uint64{3}},
			emu.Event{T: 30, CPU: 1, Kind: emu.EvIRQEntry, Vector: cf, IDs: []uint64{1}},
			emu.Event{T: 30, CPU: 2, Kind: emu.EvIRQEntry, Vector: cf, IDs: []uint64{2}},
			emu.Event{T: 35, CPU: 0, Kind: emu.EvPrintk, Text: "hello"},
		)
		return jsonOf(t, a, 40) + a.Timeline(0, 40, 40, nil)
	}
	if x, y := run(), run(); x != y {
		t.Fatalf("two runs differ:\n%s\n%s", x, y)
	}
}

// A narrow range zooms: the column width follows the range.
func TestTimelineZoom(t *testing.T) {
	a := newTestActivity(t, "x86-4")
	feed(a,
		sw(0, 0, "swapper/0", 0, "a", 100),
		emu.Event{T: 1000000, CPU: 0, Kind: emu.EvIPISend, Targets: []int{1}, IDs: []uint64{1}, Vector: cfs},
		emu.Event{T: 1000020, CPU: 1, Kind: emu.EvIRQEntry, Vector: cfs, IDs: []uint64{1}},
		emu.Event{T: 1000030, CPU: 1, Kind: emu.EvIRQExit, Vector: cfs},
	)
	wantLines(t, a.Timeline(0, 2000000, 2000000, nil), "timeline 0.000000000s .. 0.002000000s, 50us per column")
	wantLines(t, a.Timeline(1000000, 1000040, 2000000, nil),
		"timeline 0.001000000s .. 0.001000040s, 1ns per column",
		"CPU0    >=======================================",
		"CPU1    ~~~~~~~~~~~~~~~~~~~~HHHHHHHHHH..........",
		"        CPU0 > CPU1  sent +0s, taken +20ns by sysvec_call_function_single",
	)
}

// Past the bound on slices, the ones not kept still nest and end as the
// record says: an NMI's exit ends the NMI, not the handler under it, and
// the open slices do not pile up.
func TestSpanBound(t *testing.T) {
	defer func(n, f, e int) { maxSpans, maxFlows, maxEvents = n, f, e }(maxSpans, maxFlows, maxEvents)
	maxSpans, maxFlows, maxEvents = 2, 1, 4
	a := newTestActivity(t, "x86-4")
	evs := []emu.Event{
		sw(0, 1, "swapper/1", 0, "a", 100),
		{T: 10, CPU: 1, Kind: emu.EvIRQEntry, Vector: cfs},
	}
	for i := int64(0); i < 100; i++ {
		evs = append(evs,
			emu.Event{T: 20 + i, CPU: 1, Kind: emu.EvIRQEntry, Vector: -1},
			emu.Event{T: 20 + i, CPU: 1, Kind: emu.EvIRQExit, Vector: -1},
			emu.Event{T: 20 + i, CPU: 0, Kind: emu.EvIPISend, Targets: []int{1}, IDs: []uint64{uint64(i + 1)}, Vector: cfs},
		)
	}
	evs = append(evs, emu.Event{T: 500, CPU: 1, Kind: emu.EvIRQExit, Vector: cfs})
	feed(a, evs...)
	if n := len(a.tracks[1].open); n != 1 {
		t.Errorf("%d slices open on CPU 1, want the task's", n)
	}
	if h := a.spans[1]; h.kind != spanHandler || h.end != 500 {
		t.Errorf("handler %+v, want it to end at 500", h)
	}
	if a.dropped != 100 || a.flowsDropped != 99 || len(a.marks) > 4 || a.dropMarks != 96 {
		t.Errorf("dropped %d spans, %d flows, %d instants (%d kept)", a.dropped, a.flowsDropped, a.dropMarks, len(a.marks))
	}
	wantLines(t, jsonOf(t, a, 600), `{"displayTimeUnit":"ns","otherData":{"machine":"x86-4","seed":7,"trace_hash":"0000000000000abc","end":"0.000000600s","spans_dropped":100,"ipis_dropped":99,"instants_dropped":96}`)
}

// The record's other events are instants with their fields; an elided IPI
// is one on its sender, with no arrow; a local call's function has no csd.
func TestInstants(t *testing.T) {
	a := newTestActivity(t, "x86-4")
	feed(a,
		emu.Event{T: 5, CPU: 0, Kind: emu.EvSchedWakeup, TaskComm: "worker", TaskPID: 104, Target: 3},
		emu.Event{T: 6, CPU: 0, Kind: emu.EvIPIElide, Target: 3},
		emu.Event{T: 7, CPU: 0, Kind: emu.EvCSDFuncEntry, Func: "local_fn"},
		emu.Event{T: 8, CPU: 0, Kind: emu.EvCSDFuncExit, Func: "local_fn"},
		emu.Event{T: 9, CPU: 0, Kind: emu.EvPrintk, Text: "smp: <hello>"},
	)
	got := jsonOf(t, a, 10)
	wantLines(t, got,
		`{"ph":"i","s":"t","name":"sched_wakeup","cat":"sched","pid":1,"tid":0,"ts":0.005,"args":{"task":"<idle>-0","flags":".....","comm":"worker","pid":"104","target_cpu":"3"}}`,
		`{"ph":"i","s":"t","name":"IPI elided","cat":"ipi","pid":1,"tid":0,"ts":0.006,"args":{"task":"<idle>-0","flags":".....","to":"3"}}`,
		`{"ph":"X","name":"local_fn","cat":"csd","pid":1,"tid":0,"ts":0.007,"dur":0.001,"args":{"csd":"0000000000000000"}}`,
		`{"ph":"i","s":"t","name":"printk","cat":"log","pid":1,"tid":0,"ts":0.009,"args":{"task":"<idle>-0","flags":".....","text":"smp: <hello>"}}`,
	)
	noLine(t, got, `"ph":"s"`)
}

// Softirqs: a slice named after the action from softirq_entry to
// softirq_exit, inside the handler whose irq_exit() ran it (CPU 0), and
// around the handler of an interrupt taken while it ran (CPU 1: a softirq
// run by local_bh_enable() in a task); softirq_raise is an instant.
func TestSoftirqSlices(t *testing.T) {
	a := newTestActivity(t, "x86-4")
	dev := irqchip.X86DeviceVector
	feed(a,
		sw(0, 0, "swapper/0", 0, "a", 100),
		sw(0, 1, "swapper/1", 0, "b", 101),
		emu.Event{T: 10, CPU: 0, Kind: emu.EvIRQEntry, Vector: dev},
		emu.Event{T: 20, CPU: 0, Kind: emu.EvSoftirqRaise, Vector: 4, Flags: [5]byte{'d', '.', 'h', '.', '.'}, Comm: "a", PID: 100},
		emu.Event{T: 30, CPU: 0, Kind: emu.EvSoftirqEntry, Vector: 4},
		emu.Event{T: 40, CPU: 0, Kind: emu.EvSoftirqExit, Vector: 4},
		emu.Event{T: 50, CPU: 0, Kind: emu.EvIRQExit, Vector: dev},
		emu.Event{T: 10, CPU: 1, Kind: emu.EvSoftirqEntry, Vector: 3},
		emu.Event{T: 20, CPU: 1, Kind: emu.EvIRQEntry, Vector: dev},
		emu.Event{T: 30, CPU: 1, Kind: emu.EvIRQExit, Vector: dev},
		emu.Event{T: 40, CPU: 1, Kind: emu.EvSoftirqExit, Vector: 3},
	)
	got := jsonOf(t, a, 60)
	wantLines(t, got,
		`{"ph":"X","name":"a","cat":"task","pid":1,"tid":0,"ts":0.000,"dur":0.060,"args":{"pid":"100"}}`,
		`{"ph":"X","name":"b","cat":"task","pid":1,"tid":1,"ts":0.000,"dur":0.060,"args":{"pid":"101"}}`,
		`{"ph":"X","name":"irq VECTOR_0x21","cat":"irq","pid":1,"tid":0,"ts":0.010,"dur":0.040,"args":{"vector":"VECTOR_0x21"}}`,
		`{"ph":"X","name":"NET_RX","cat":"softirq","pid":1,"tid":1,"ts":0.010,"dur":0.030,"args":{"vec":"3"}}`,
		`{"ph":"i","s":"t","name":"softirq_raise","cat":"softirq","pid":1,"tid":0,"ts":0.020,"args":{"task":"a-100","flags":"d.h..","vec":"4","action":"BLOCK"}}`,
		`{"ph":"X","name":"irq VECTOR_0x21","cat":"irq","pid":1,"tid":1,"ts":0.020,"dur":0.010,"args":{"vector":"VECTOR_0x21"}}`,
		`{"ph":"X","name":"BLOCK","cat":"softirq","pid":1,"tid":0,"ts":0.030,"dur":0.010,"args":{"vec":"4"}}`,
	)
	file := filepath.Join(t.TempDir(), "t.json")
	if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
		t.Fatal(err)
	}
	tracetest.Check(t, file, "x86-4", 4)
	tl := a.Timeline(0, 60, 60, nil)
	for _, w := range []string{
		"CPU0    ==========HHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHH==========\n",
		"CPU1    ==========ssssssssssHHHHHHHHHHssssssssss====================\n",
		"        H handler  N NMI  w CSD-lock wait  - offline  s softirq\n",
	} {
		if !strings.Contains(tl, w) {
			t.Errorf("timeline lacks %q:\n%s", w, tl)
		}
	}
}
