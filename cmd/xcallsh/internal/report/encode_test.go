package report

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
)

// sample is an event with every field set.
func sample() emu.Event {
	return emu.Event{
		Seq: 7, T: 3_000_000_350, CPU: 1, Kind: emu.EvIPISend, Ctx: emu.CtxTask, Flags: [5]byte{'d', '.', 'h', '1', '.'},
		Comm: "on", PID: 12, ID: 4, IDs: []uint64{4, 5}, Vector: 251, Targets: []int{2, 3},
		Writes: []emu.RegWrite{{Reg: "ICR", Value: 0xc08fb}}, Source: 1, Target: 2, Delay: 500, Reason: emu.DropOffline,
		CSD: 9, Func: "greet", Site: "smp_call_function_single+0x0/0x0", CSDType: 1,
		TaskComm: "w", TaskPID: 2, PrevComm: "a", PrevPID: 3, PrevState: "S", NextComm: "b", NextPID: 4,
		State: 5, StateName: "smpcfd:dying", Fn: "smpcfd_dying_cpu", Dest: 6, Idx: 7, Ret: -1,
		Text: "greet from 1", Name: "cpu_down", N: 8, V: 0xff, Max: 3,
	}
}

// bump changes one field of e (a reflect.Value of an addressable Event)
// to another value of its type.
func bump(t *testing.T, f reflect.Value) {
	t.Helper()
	switch f.Kind() {
	case reflect.Int, reflect.Int64:
		f.SetInt(f.Int() + 1)
	case reflect.Uint8, reflect.Uint32, reflect.Uint64:
		f.SetUint(f.Uint() + 1)
	case reflect.String:
		f.SetString(f.String() + "x")
	case reflect.Array:
		f.Index(0).SetUint(f.Index(0).Uint() + 1)
	case reflect.Slice:
		switch f.Type().Elem().Kind() {
		case reflect.Struct: // []RegWrite: both fields count
			w := f.Index(0)
			for k := 0; k < w.NumField(); k++ {
				bump(t, w.Field(k))
			}
		default:
			bump(t, f.Index(0))
		}
	default:
		t.Fatalf("field of kind %s: teach the test and AppendEvent about it", f.Kind())
	}
}

// Every field of emu.Event is in its encoding: changing any one of them
// (each element of a slice too, and the length of a slice) changes the
// bytes. A field added to emu.Event without its encoding fails here.
func TestEncodingCoversEveryField(t *testing.T) {
	base := sample()
	want := AppendEvent(nil, &base)
	typ := reflect.TypeOf(base)
	for k := 0; k < typ.NumField(); k++ {
		e := sample()
		e.IDs, e.Targets, e.Writes = append([]uint64{}, e.IDs...), append([]int{}, e.Targets...), append([]emu.RegWrite{}, e.Writes...)
		bump(t, reflect.ValueOf(&e).Elem().Field(k))
		if bytes.Equal(AppendEvent(nil, &e), want) {
			t.Errorf("field %s is not in the encoding", typ.Field(k).Name)
		}
		if f := reflect.ValueOf(&e).Elem().Field(k); f.Kind() == reflect.Slice {
			e2 := sample()
			s := reflect.ValueOf(&e2).Elem().Field(k)
			s.Set(s.Slice(0, s.Len()-1))
			if bytes.Equal(AppendEvent(nil, &e2), want) {
				t.Errorf("the length of %s is not in the encoding", typ.Field(k).Name)
			}
		}
	}
	// Self-delimiting: a byte moved from one string to the next, or from
	// one event to the next, is a different stream.
	a, b := sample(), sample()
	a.Func, a.Site = "ab", "c"
	b.Func, b.Site = "a", "bc"
	if bytes.Equal(AppendEvent(nil, &a), AppendEvent(nil, &b)) {
		t.Error("strings are not delimited")
	}
	x1, x2, y1, y2 := emu.Event{Seq: 1, Text: "ab"}, emu.Event{Seq: 2}, emu.Event{Seq: 1, Text: "a"}, emu.Event{Seq: 2, Text: "b"}
	if bytes.Equal(AppendEvent(AppendEvent(nil, &x1), &x2), AppendEvent(AppendEvent(nil, &y1), &y2)) {
		t.Error("events are not delimited")
	}
	// Stable: the encoding of the sample, byte for byte. A change of the
	// encoding changes every report's hash; it is then a new schedule of
	// the reports' checks, to be made on purpose.
	// Seq 7, T 3000000350 (zig-zag: bcfd82ad16), CPU 1 (02), kind and context
	// (01 01), the flags "d.h1.", Comm "on", PID 12 (18), ...
	const golden = "07bcfd82ad16020101642e68312e026f6e1804020405f6030204060103494352fb91300204e8070109056772" +
		"65657420736d705f63616c6c5f66756e6374696f6e5f73696e676c652b3078302f3078300101770401610601" +
		"530162080a0c736d706366643a6479696e6710736d706366645f6479696e675f6370750c0e010c6772656574" +
		"2066726f6d2031086370755f646f776e10ff0103"
	if got := hexOf(want); got != golden {
		t.Errorf("the encoding of the sample changed:\n got %s\nwant %s", got, golden)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

// The hash is over the exact typed events: one nanosecond, one field, one
// event more, and it differs; the same events give the same hash.
func TestEventLogHashTyped(t *testing.T) {
	run := func(change func(i int, e *emu.Event)) (uint64, Sums) {
		l := NewEventLog()
		l.Keep = true
		for i := 0; i < 40; i++ {
			e := sample()
			e.Seq, e.T = uint64(i+1), int64(1000*i)
			if change != nil {
				change(i, &e)
			}
			l.Record(&e)
		}
		return l.Hash(), l.Sums()
	}
	h0, s0 := run(nil)
	if h, s := run(nil); h != h0 || !reflect.DeepEqual(s, s0) {
		t.Errorf("same events: hash %016x, then %016x", h0, h)
	}
	for name, change := range map[string]func(int, *emu.Event){
		"one ns later":   func(i int, e *emu.Event) { e.T += int64(b2i(i == 17)) },
		"another CPU":    func(i int, e *emu.Event) { e.CPU += b2i(i == 17) },
		"another flag":   func(i int, e *emu.Event) { e.Flags[3] += byte(b2i(i == 17)) },
		"another id":     func(i int, e *emu.Event) { e.IDs[1] += uint64(b2i(i == 17)) },
		"another kind":   func(i int, e *emu.Event) { e.Kind += emu.EventKind(b2i(i == 17)) },
		"another target": func(i int, e *emu.Event) { e.Targets[0] += b2i(i == 17) },
		"another text":   func(i int, e *emu.Event) { e.Text += strings.Repeat(" ", b2i(i == 17)) },
	} {
		h, s := run(change)
		if h == h0 {
			t.Errorf("%s: same hash %016x", name, h)
		}
		if reflect.DeepEqual(s, s0) {
			t.Errorf("%s: same checksums", name)
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A replay of typed events names the first event that differs, described:
// a log line as dmesg prints it, any other event by its kind and fields.
func TestEventLogDivergenceTyped(t *testing.T) {
	events := func(change int) []emu.Event {
		var out []emu.Event
		for i := 1; i <= 30; i++ {
			e := emu.Event{Seq: uint64(i), T: int64(i) * 1_000_000_000, CPU: i % 4, Kind: emu.EvIPIDeliver, Comm: "<idle>",
				Flags: [5]byte{'d', '.', 'h', '.', '.'}, ID: uint64(i), Vector: 251, Source: 0}
			if i%3 == 0 {
				e.Kind, e.Text = emu.EvPrintk, "greet from 1"
			}
			if i == change {
				e.T++
			}
			out = append(out, e)
		}
		return out
	}
	l := NewEventLog()
	l.Keep = true
	for _, e := range events(0) {
		l.Record(&e)
	}
	sums := l.Sums()
	for _, c := range []struct {
		change int
		want   string
	}{
		{0, ""},
		{7, "first difference at event #7, 7.000000001s in the replay:\n  CPU3 <idle>-0 [d.h..] ipi_deliver: ID=7 Vector=251 Source=0"},
		{9, "first difference at event #9, 9.000000001s in the replay:\n  [    9.000000] greet from 1"},
	} {
		l := NewEventLog()
		l.Expect(&sums)
		for _, e := range events(c.change) {
			l.Record(&e)
		}
		d := l.Finish()
		if got := ""; d != nil || c.want != "" {
			if d != nil {
				got = d.String()
			}
			if got != c.want {
				t.Errorf("event %d changed:\n got %s\nwant %s", c.change, got, c.want)
			}
		}
	}
}

// Describe names an event's kind and the fields its kind sets, zero
// included where zero is a value (CPU 0, vector 0).
func TestDescribe(t *testing.T) {
	for _, c := range []struct {
		e    emu.Event
		want string
	}{
		{emu.Event{T: 5, CPU: 1, Kind: emu.EvPrintk, Text: "greet from 1"}, "[    0.000000] greet from 1"},
		{emu.Event{CPU: 1, Kind: emu.EvIPIDrop, Comm: "<idle>", Flags: [5]byte{'.', '.', '.', '.', '.'}, ID: 2, Vector: 0, Source: 0, Reason: emu.DropFault},
			"CPU1 <idle>-0 [.....] ipi_drop: ID=2 Vector=0 Source=0 Reason=fault"},
		{emu.Event{CPU: 0, Kind: emu.EvIPISend, Comm: "on", PID: 100, Flags: [5]byte{'d', '.', '.', '1', '.'}, IDs: []uint64{1, 2}, Vector: 251,
			Targets: []int{1, 2}, Writes: []emu.RegWrite{{Reg: "ICR", Value: 0xfb}}, Site: "smp_call_function_many_cond+0x0/0x0"},
			`CPU0 on-100 [d..1.] ipi_send: IDs=[1 2] Vector=251 Targets=[1 2] ICR=0xfb Site="smp_call_function_many_cond+0x0/0x0"`},
		{emu.Event{CPU: -1, Comm: "<operator>", PID: -1, Kind: emu.EvDecision, N: 3, V: 0x1f, Max: 200}, "<operator> decision: N=3 V=0x1f Max=0xc8"},
		{emu.Event{CPU: 2, Kind: emu.EvSchedWakeup, Comm: "t", PID: 101, Flags: [5]byte{'.', '.', '.', '.', '.'}, TaskComm: "w", TaskPID: 102, Target: 3},
			`CPU2 t-101 [.....] sched_wakeup: Target=3 TaskComm="w" TaskPID=102`},
		{emu.Event{CPU: 0, Kind: emu.EvStoreBuffered, Comm: "t", PID: 100, Flags: [5]byte{'.', '.', '.', '1', '.'}, Name: "llist_add", CSD: 1, Func: "f", Target: 0, Delay: 2278},
			`CPU0 t-100 [...1.] store_buffered: Target=0 Delay=2278 CSD=1 Func="f" Name="llist_add"`},
		{emu.Event{CPU: 0, Kind: emu.EvStoreVisible, Comm: "t", PID: 100, Flags: [5]byte{'d', '.', '.', '1', '.'}, Name: "llist_add", CSD: 1, Func: "f", Target: 2, Site: "dsb(ishst)", Delay: 40},
			`CPU0 t-100 [d..1.] store_visible: Target=2 Delay=40 CSD=1 Func="f" Site="dsb(ishst)" Name="llist_add"`},
	} {
		if got := Describe(&c.e); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}
