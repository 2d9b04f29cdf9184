package traces

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/traces/tracetest"
	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/luabind"
	"github.com/xcallsh/xcallsh/scripts"
	"github.com/xcallsh/xcallsh/xcall"
)

var update = flag.Bool("update", false, "rewrite testdata/*.timeline from the runs")

// events collects the record, to hold the views against it.
type events []emu.Event

func (r *events) Record(e *emu.Event) { *r = append(*r, *e) }

// traced runs a script with an Activity (and a collector) attached and
// returns them, with the virtual time the run reached.
func traced(t *testing.T, machine, script string) (*Activity, events, int64) {
	t.Helper()
	src, name := "", script
	if s, ok := scripts.Lookup(script); ok {
		src = s.Source
	} else {
		b, err := os.ReadFile(filepath.Join("testdata", script+".lua"))
		if err != nil {
			t.Fatal(err)
		}
		src = string(b)
	}
	a := New()
	var rec events
	s, err := luabind.New(luabind.Options{Machine: machine, Setup: func(k *xcall.Kernel) {
		rec = rec[:0]
		a.Attach(k)
		k.M.AddRecorder(&rec)
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Exec(name, src); err != nil {
		t.Fatalf("%s on %s: %v", script, machine, err)
	}
	return a, rec, s.K.M.Now()
}

// The runs the views are checked on: lost_ipi (x86 and arm64), a delayed
// IPI, hotplug racing calls (a drop, cpuhp states, an offline period), and
// the CPU_DYING race of fix_dying_flush. Each timeline is held against a
// golden file: the whole run, then the ranges that show the race.
var runs = []struct {
	machine, script string
	ranges          []string
}{
	{"x86-4", "lost_ipi", []string{"0..200ns", "1s..1.000003s"}},
	{"arm64-8", "lost_ipi", []string{"0..200ns"}},
	{"x86-4", "ipi_delay", []string{"0..60us"}},
	{"x86-4", "hotplug_race", []string{"0..200us", "140us..160us"}},
	{"x86-4", "fix_dying_flush", []string{"1ms..1.1ms"}},
}

func TestRunsTimeline(t *testing.T) {
	for _, r := range runs {
		t.Run(r.machine+"/"+r.script, func(t *testing.T) {
			var outs [2]string
			for i := range outs {
				a, _, now := traced(t, r.machine, r.script)
				var b strings.Builder
				b.WriteString(a.Timeline(0, now, now, nil))
				for _, s := range r.ranges {
					rg, err := ParseRange(s)
					if err != nil {
						t.Fatal(err)
					}
					from, to, err := rg.Resolve(now)
					if err != nil {
						t.Fatal(err)
					}
					fmt.Fprintf(&b, "\n$ timeline %s\n%s", s, a.Timeline(from, to, now, nil))
				}
				outs[i] = b.String()
			}
			if outs[0] != outs[1] {
				t.Fatalf("two runs differ:\n%s\n%s", outs[0], outs[1])
			}
			for _, l := range strings.Split(outs[0], "\n") {
				if n := len([]rune(l)); n > 80 {
					t.Errorf("line of %d columns: %q", n, l)
				}
			}
			file := filepath.Join("testdata", r.script+"."+r.machine+".timeline")
			if *update {
				if err := os.WriteFile(file, []byte(outs[0]), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if outs[0] != string(want) {
				t.Errorf("timeline differs from %s (go test -update rewrites it):\n%s", file, outs[0])
			}
		})
	}
}

// The Perfetto file of each run is one Perfetto reads as meant, the same
// bytes twice, and its arrows are exactly the record's IPIs: one per id
// from its EvIPISend to the EvIRQEntry listing it, none for a dropped one.
func TestRunsPerfetto(t *testing.T) {
	for _, r := range runs {
		t.Run(r.machine+"/"+r.script, func(t *testing.T) {
			var docs [2][]byte
			var rec events
			for i := range docs {
				a, evs, now := traced(t, r.machine, r.script)
				var b bytes.Buffer
				if err := a.WriteJSON(&b, now, 1); err != nil {
					t.Fatal(err)
				}
				docs[i], rec = b.Bytes(), evs
			}
			if !bytes.Equal(docs[0], docs[1]) {
				t.Fatal("two runs gave different files")
			}
			file := filepath.Join(t.TempDir(), "t.json")
			os.WriteFile(file, docs[0], 0o644)
			tracetest.CheckPerfetto(t, file, r.machine, len(cpusOf(t, docs[0])))
			checkFlows(t, docs[0], rec)
		})
	}
}

func cpusOf(t *testing.T, doc []byte) map[int]bool {
	cpus := map[int]bool{}
	for _, e := range decode(t, doc) {
		if e.Ph == "M" && e.Name == "thread_name" {
			cpus[e.Tid] = true
		}
	}
	return cpus
}

type jev struct {
	Ph, Name string
	ID       uint64
	Tid      int
	Ts       json.Number
}

func decode(t *testing.T, doc []byte) []jev {
	var d struct{ TraceEvents []jev }
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		t.Fatal(err)
	}
	return d.TraceEvents
}

// checkFlows holds the arrows against the record.
func checkFlows(t *testing.T, doc []byte, rec events) {
	t.Helper()
	type end struct {
		cpu int
		ts  string
	}
	send, take := map[uint64]end{}, map[uint64]end{}
	lost := map[uint64]bool{}
	var ids []uint64 // in send order
	for _, e := range rec {
		switch e.Kind {
		case emu.EvIPISend:
			if e.CPU < 0 {
				continue
			}
			for _, id := range e.IDs {
				send[id] = end{e.CPU, usHalf(2*e.T + 1)}
				ids = append(ids, id)
			}
		case emu.EvIRQEntry:
			for _, id := range e.IDs {
				take[id] = end{e.CPU, usHalf(2*e.T + 1)}
			}
		case emu.EvIPIDrop:
			lost[e.ID] = true
		}
	}
	starts, finishes := map[uint64]end{}, map[uint64]end{}
	for _, e := range decode(t, doc) {
		switch e.Ph {
		case "s":
			starts[e.ID] = end{e.Tid, e.Ts.String()}
		case "f":
			finishes[e.ID] = end{e.Tid, e.Ts.String()}
		}
	}
	nLost, nTaken := 0, 0
	for _, id := range ids {
		s, hasS := starts[id]
		f, hasF := finishes[id]
		switch {
		case lost[id]:
			nLost++
			if hasS || hasF {
				t.Errorf("dropped IPI %d has an arrow", id)
			}
		case take[id] != (end{}):
			nTaken++
			if s != send[id] || f != take[id] {
				t.Errorf("IPI %d: arrow %v -> %v, record says %v -> %v", id, s, f, send[id], take[id])
			}
		default:
			if hasS || hasF {
				t.Errorf("IPI %d was never taken but has an arrow", id)
			}
		}
	}
	if len(starts) != nTaken || len(finishes) != nTaken {
		t.Errorf("%d arrow starts, %d finishes, %d IPIs taken", len(starts), len(finishes), nTaken)
	}
	t.Logf("%d IPIs: %d with arrows, %d lost", len(ids), nTaken, nLost)
}

// Every built-in scenario, on x86 and arm64, gives a Perfetto file that
// Perfetto reads as meant and whose arrows are the record's IPIs.
func TestScenariosPerfetto(t *testing.T) {
	if testing.Short() {
		t.Skip("every scenario twice")
	}
	for _, s := range scripts.All() {
		for _, m := range []string{"x86-4", "arm64-8"} {
			t.Run(s.Name+"/"+m, func(t *testing.T) {
				a, rec, now := traced(t, m, s.Name)
				var b bytes.Buffer
				if err := a.WriteJSON(&b, now, 1); err != nil {
					t.Fatal(err)
				}
				file := filepath.Join(t.TempDir(), "t.json")
				os.WriteFile(file, b.Bytes(), 0o644)
				tracetest.Check(t, file, a.spec.Name, len(cpusOf(t, b.Bytes())))
				checkFlows(t, b.Bytes(), rec)
			})
		}
	}
}

// fix_softirq_idle_flush: the callback run by CPU 2's idle loop raises
// BLOCK_SOFTIRQ twice (fix off, then on); only with the fix does the idle
// flush run it, a zero-length BLOCK slice in softirq context on CPU 2. The
// Perfetto file has both raises and that one slice; the timeline draws it.
func TestRunsSoftirq(t *testing.T) {
	var docs [2][]byte
	var tl string
	for i := range docs {
		a, _, now := traced(t, "x86-4", "fix_softirq_idle_flush")
		var b bytes.Buffer
		if err := a.WriteJSON(&b, now, 1); err != nil {
			t.Fatal(err)
		}
		docs[i], tl = b.Bytes(), a.Timeline(0, now, now, nil)
	}
	if !bytes.Equal(docs[0], docs[1]) {
		t.Fatal("two runs gave different files")
	}
	file := filepath.Join(t.TempDir(), "t.json")
	os.WriteFile(file, docs[0], 0o644)
	tracetest.Check(t, file, "x86-4-poll", 4)
	got := string(docs[0])
	wantLines(t, got,
		`{"ph":"i","s":"t","name":"softirq_raise","cat":"softirq","pid":1,"tid":2,"ts":0.170,"args":{"task":"<idle>-0","flags":"d....","vec":"4","action":"BLOCK"}}`,
		`{"ph":"X","name":"BLOCK","cat":"softirq","pid":1,"tid":2,"ts":1000.170,"dur":0.001,"args":{"vec":"4"}}`,
		`{"ph":"i","s":"t","name":"softirq_raise","cat":"softirq","pid":1,"tid":2,"ts":1000.170,"args":{"task":"<idle>-0","flags":"d....","vec":"4","action":"BLOCK"}}`,
	)
	if n := strings.Count(got, `"cat":"softirq"`); n != 3 {
		t.Errorf("%d softirq events, want 3 (two raises, one run)", n)
	}
	for _, w := range []string{
		"CPU2    #...................s...................\n",
		"        H handler  N NMI  w CSD-lock wait  - offline  s softirq\n",
	} {
		if !strings.Contains(tl, w) {
			t.Errorf("timeline lacks %q:\n%s", w, tl)
		}
	}
}
