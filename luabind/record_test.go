package luabind_test

// The event record (emu/record.go) against the text tracepoints it
// replaces: on every built-in scenario, each tracepoint hit has a typed
// event of its kind at the same time on the same CPU, and attaching a
// recorder changes nothing in the run.

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/luabind"
	"github.com/xcallsh/xcallsh/scripts"
	"github.com/xcallsh/xcallsh/xcall"
)

// traceKind is the kind of event each text tracepoint is recorded as.
var traceKind = map[string]emu.EventKind{
	"ipi_send_cpu":                emu.EvIPISend,
	"ipi_send_cpumask":            emu.EvIPISend,
	"ipi_raise":                   emu.EvIPISend, // arm64: with ipi_send_cpu(mask), one send
	"sched_wake_idle_without_ipi": emu.EvIPIElide,
	"csd_queue_cpu":               emu.EvCSDQueue,
	"csd_function_entry":          emu.EvCSDFuncEntry,
	"csd_function_exit":           emu.EvCSDFuncExit,
	"ipi_entry":                   emu.EvIPIEntry,
	"ipi_exit":                    emu.EvIPIExit,
	"call_function_single_entry":  emu.EvIPIEntry,
	"call_function_single_exit":   emu.EvIPIExit,
	"call_function_entry":         emu.EvIPIEntry,
	"call_function_exit":          emu.EvIPIExit,
	"reschedule_entry":            emu.EvIPIEntry,
	"reschedule_exit":             emu.EvIPIExit,
}

// at is where and when something happened, and what.
type at struct {
	t    int64
	cpu  int
	kind emu.EventKind
}

// both collects the text tracepoints and the record of one kernel.
type both struct {
	hits  []at
	names []string
	evs   map[at]int // looked up, never ranged
	rec   bool
}

func (b *both) Trace(e *emu.TraceEvent) {
	b.hits = append(b.hits, at{e.T, e.CPU, traceKind[e.Name]})
	b.names = append(b.names, e.Name)
}
func (b *both) Log(*emu.LogLine)    {}
func (b *both) Record(e *emu.Event) { b.evs[at{e.T, e.CPU, e.Kind}]++ }

// recRun is what must not change when a recorder is attached.
type recRun struct {
	order     uint64
	log       string
	decisions string
	err       string
}

func runRecorded(t *testing.T, sc scripts.Scenario, machine string, seed uint64, record bool) (recRun, []*both) {
	t.Helper()
	var cols []*both
	var out bytes.Buffer
	sess, err := luabind.New(luabind.Options{
		Machine: machine, MachineForced: machine != "", Seed: seed, Timeout: time.Minute, Stdout: &out,
		Sched: emu.SchedConfig{Record: true},
		Setup: func(k *xcall.Kernel) {
			b := &both{evs: map[at]int{}, rec: record}
			cols = append(cols, b)
			if record {
				k.M.AddSink(b)
				k.M.AddRecorder(b)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	_, err = sess.Exec("scripts/"+sc.Name+".lua", sc.Source)
	k := sess.K
	var r recRun
	r.order = k.M.OrderHash()
	var log strings.Builder
	for _, l := range k.M.Log() {
		log.WriteString(l.String() + "\n")
	}
	r.log = log.String() + out.String()
	r.decisions = fmt.Sprint(k.M.Decisions())
	if err != nil {
		r.err = err.Error()
	}
	return r, cols
}

func TestRecordCoversTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every built-in scenario")
	}
	for _, sc := range scripts.All() {
		d := directives(sc.Source)
		ms := []string{"x86-4", "arm64-8"}
		if d["machines"] == ownMachine {
			ms = []string{""}
		} else if only := machineList(d["machines"]); len(only) > 0 {
			ms = slices.DeleteFunc(ms, func(m string) bool { return !slices.Contains(only, m) })
		}
		for _, m := range ms {
			for _, seed := range []uint64{0, 5} {
				t.Run(fmt.Sprintf("%s/%s/%d", sc.Name, m, seed), func(t *testing.T) {
					t.Parallel()
					with, cols := runRecorded(t, sc, m, seed, true)
					without, _ := runRecorded(t, sc, m, seed, false)
					if with != without {
						t.Errorf("a recorder changed the run:\nwith    %+v\nwithout %+v", with, without)
					}
					for _, b := range cols {
						for i, h := range b.hits {
							if h.kind == emu.EvNone {
								t.Errorf("tracepoint %s has no kind of event", b.names[i])
								continue
							}
							// Present, not one each: arm64 traces one send twice
							// (ipi_send_cpu and ipi_raise).
							if b.evs[h] == 0 {
								t.Errorf("tracepoint %s at %d on CPU %d: no %s recorded there", b.names[i], h.t, h.cpu, h.kind)
							}
						}
					}
				})
			}
		}
	}
}
