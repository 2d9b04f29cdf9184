// Package tracetest checks, for tests, that a Perfetto JSON trace written by
// package traces is one Perfetto reads as meant (docs/traces.md#perfetto-json).
package tracetest

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"testing"
)

// traceEvent is one Chrome trace event, as far as the tests look.
type traceEvent struct {
	Ph   string         `json:"ph"`
	Name string         `json:"name"`
	Cat  string         `json:"cat"`
	ID   int            `json:"id"`
	Pid  int            `json:"pid"`
	Tid  int            `json:"tid"`
	Ts   float64        `json:"ts"`
	Dur  float64        `json:"dur"`
	Bp   string         `json:"bp"`
	Args map[string]any `json:"args"`
}

// CheckPerfetto checks a trace file the way Perfetto reads it: a process
// named after the machine, a "CPU n" track per CPU, properly nested slices,
// and for every flow start exactly one finish with the same id, cat and
// name, each strictly inside a slice on its own track. And that the flows
// are the IPIs: every IPI id an ipi_send instant lists is exactly one of
// an arrow (starting on the sender half a nanosecond after the send), an
// "IPI dropped" instant or an "IPI not taken" one.
func CheckPerfetto(t testing.TB, file, machine string, cpus int) {
	t.Helper()
	if n := Check(t, file, machine, cpus); n == 0 {
		t.Errorf("%s: no IPI sent", file)
	}
}

// Check is CheckPerfetto for a run that may send no IPI; it returns the
// number of IPIs sent.
func Check(t testing.TB, file, machine string, cpus int) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		TraceEvents []traceEvent `json:"traceEvents"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	threads := map[int]string{}
	process := ""
	slices := map[int][]traceEvent{}
	starts := map[int]traceEvent{}
	finishes := map[int]traceEvent{}
	type at struct {
		tid int
		ts  float64
	}
	sends := map[string]at{}    // IPI id -> its send
	ends := map[string]string{} // IPI id -> "dropped", "not taken"
	for _, e := range doc.TraceEvents {
		if e.Pid != 1 {
			t.Fatalf("event with pid %d: %+v", e.Pid, e)
		}
		switch e.Ph {
		case "M":
			switch e.Name {
			case "process_name":
				process, _ = e.Args["name"].(string)
			case "thread_name":
				threads[e.Tid], _ = e.Args["name"].(string)
			}
		case "X":
			slices[e.Tid] = append(slices[e.Tid], e)
		case "i":
			switch e.Name {
			case "ipi_send":
				ids, _ := e.Args["ids"].(string)
				for _, id := range strings.Split(ids, ",") {
					if _, dup := sends[id]; dup || id == "" {
						t.Errorf("IPI id %q sent twice or empty at %v", id, e.Ts)
					}
					sends[id] = at{e.Tid, e.Ts}
				}
			case "IPI dropped", "IPI not taken":
				id := fmt.Sprint(e.Args["id"])
				if _, dup := ends[id]; dup {
					t.Errorf("IPI %s lost twice", id)
				}
				ends[id] = e.Name
			}
		case "s":
			if _, dup := starts[e.ID]; dup {
				t.Errorf("two flow starts with id %d", e.ID)
			}
			starts[e.ID] = e
		case "f":
			if _, dup := finishes[e.ID]; dup {
				t.Errorf("two flow finishes with id %d", e.ID)
			}
			if e.Bp != "e" {
				t.Errorf("flow finish %d without bp:e", e.ID)
			}
			finishes[e.ID] = e
		}
	}
	if process != machine {
		t.Errorf("process_name %q, want %q", process, machine)
	}
	for c := 0; c < cpus; c++ {
		if want := "CPU " + string(rune('0'+c%10)); c < 10 && threads[c] != want {
			t.Errorf("thread %d named %q, want %q", c, threads[c], want)
		}
	}
	nCPU := 0 // the CPU tracks; a native memory model adds store-buffer ones
	for _, name := range threads {
		if !strings.Contains(name, "store buffer") {
			nCPU++
		}
	}
	if nCPU != cpus {
		t.Errorf("%d CPU thread tracks, want %d", nCPU, cpus)
	}
	inside := func(e traceEvent) bool {
		for _, s := range slices[e.Tid] {
			if s.Ts < e.Ts && e.Ts < s.Ts+s.Dur {
				return true
			}
		}
		return false
	}
	for id, s := range starts {
		f, ok := finishes[id]
		if !ok || f.Cat != s.Cat || f.Name != s.Name {
			t.Errorf("flow %d: start %+v, finish %+v", id, s, f)
			continue
		}
		if !inside(s) {
			t.Errorf("flow %d starts outside any slice on CPU %d at %v", id, s.Tid, s.Ts)
		}
		if !inside(f) {
			t.Errorf("flow %d ends outside any slice on CPU %d at %v", id, f.Tid, f.Ts)
		}
		if f.Ts <= s.Ts {
			t.Errorf("flow %d goes back in time", id)
		}
		send, ok := sends[fmt.Sprint(id)]
		if !ok || send.tid != s.Tid || math.Abs(send.ts+0.0005-s.Ts) > 1e-7 {
			t.Errorf("flow %d starts at CPU %d %v, its IPI was sent at %+v (found: %v)", id, s.Tid, s.Ts, send, ok)
		}
		if why, lost := ends[fmt.Sprint(id)]; lost {
			t.Errorf("flow %d has an arrow and is %s", id, why)
		}
	}
	if len(finishes) != len(starts) {
		t.Errorf("%d flow starts, %d finishes", len(starts), len(finishes))
	}
	if len(starts)+len(ends) != len(sends) {
		t.Errorf("%d flows and %d IPIs lost or not taken for %d IPIs sent", len(starts), len(ends), len(sends))
	}
	for id := range ends {
		if _, ok := sends[id]; !ok {
			t.Errorf("IPI %s lost but never sent", id)
		}
	}
	for tid, ss := range slices {
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].Ts < ss[j].Ts })
		var stack []traceEvent
		for _, s := range ss {
			// Times are decimal microseconds: compare with a tolerance
			// far below their half-nanosecond resolution.
			for len(stack) > 0 && stack[len(stack)-1].Ts+stack[len(stack)-1].Dur <= s.Ts+1e-7 {
				stack = stack[:len(stack)-1]
			}
			if n := len(stack); n > 0 && s.Ts+s.Dur > stack[n-1].Ts+stack[n-1].Dur+1e-7 {
				t.Errorf("CPU %d: slice %s [%v+%v] overlaps %s [%v+%v]", tid, s.Name, s.Ts, s.Dur,
					stack[n-1].Name, stack[n-1].Ts, stack[n-1].Dur)
			}
			stack = append(stack, s)
		}
	}
	return len(sends)
}
