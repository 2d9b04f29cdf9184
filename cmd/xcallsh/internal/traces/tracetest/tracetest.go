// Package tracetest checks, for tests, that a Perfetto JSON trace written by
// package traces is one Perfetto reads as meant (docs/traces.md#perfetto-json).
package tracetest

import (
	"encoding/json"
	"os"
	"sort"
	"testing"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/traces"
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
// name, each strictly inside a slice on its own track.
func CheckPerfetto(t testing.TB, file, machine string, cpus int) {
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
	sends := 0 // IPIs the send tracepoints announce
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
			fields, _ := e.Args["fields"].(string)
			switch e.Name {
			case "ipi_send_cpu":
				sends++
			case "ipi_send_cpumask":
				sends += len(traces.BitmapCPUs(traces.Field(fields, "cpumask="), cpus))
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
	if len(threads) != cpus {
		t.Errorf("%d thread tracks, want %d", len(threads), cpus)
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
	}
	if len(finishes) != len(starts) {
		t.Errorf("%d flow starts, %d finishes", len(starts), len(finishes))
	}
	if len(starts) != sends || sends == 0 {
		t.Errorf("%d flows for %d IPIs sent", len(starts), sends)
	}
	for tid, ss := range slices {
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].Ts < ss[j].Ts })
		var stack []traceEvent
		for _, s := range ss {
			for len(stack) > 0 && stack[len(stack)-1].Ts+stack[len(stack)-1].Dur <= s.Ts {
				stack = stack[:len(stack)-1]
			}
			if n := len(stack); n > 0 && s.Ts+s.Dur > stack[n-1].Ts+stack[n-1].Dur+1e-9 {
				t.Errorf("CPU %d: slice %s [%v+%v] overlaps %s [%v+%v]", tid, s.Name, s.Ts, s.Dur,
					stack[n-1].Name, stack[n-1].Ts, stack[n-1].Dur)
			}
			stack = append(stack, s)
		}
	}
}
