package traces

import (
	"bytes"
	"testing"

	"github.com/xcallsh/xcallsh/luabind"
	"github.com/xcallsh/xcallsh/scripts"
	"github.com/xcallsh/xcallsh/xcall"
)

// broadcastLua makes every kind of cross call on every CPU.
const broadcastLua = `
function f(info) end
spawn(0, "bcast", function() on_each_cpu(f, nil, 1) end)
spawn(1, "single", function() smp_call_function_single(3, f, nil, 1) end)
run(ms(1))
spawn(2, "all", function() smp_call_function(f, nil, 1) end)
run(ms(1))
`

// runScenario runs a built-in scenario on machine (empty: the script's)
// with an ftrace text writer and a trace.dat writer on the record, and
// returns both files and the kernel.
func runScenario(t *testing.T, name, machine string) (text, dat []byte, k *xcall.Kernel, d *TraceDat) {
	t.Helper()
	src := broadcastLua
	if sc, ok := scripts.Lookup(name); ok {
		src = sc.Source
	} else if name != "broadcast" {
		t.Fatalf("no scenario %s", name)
	}
	var ft *FtraceWriter
	s, err := luabind.New(luabind.Options{Machine: machine, MachineForced: machine != "", Seed: 1,
		Setup: func(kk *xcall.Kernel) {
			k, ft, d = kk, NewFtraceWriter(kk), NewTraceDat(kk)
			kk.M.AddRecorder(ft)
			kk.M.AddRecorder(d)
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Exec(name, src) // a scenario may end in a failure on purpose
	var tb, db bytes.Buffer
	if _, err := ft.WriteTo(&tb); err != nil {
		t.Fatal(err)
	}
	ft.Close()
	if _, err := d.WriteTo(&db); err != nil {
		t.Fatal(err)
	}
	return tb.Bytes(), db.Bytes(), k, d
}

// Scenarios' traces: the same bytes twice, and trace-cmd report reads from
// the trace.dat what the ftrace text says, event for event.
func TestTraceDatReportScenarios(t *testing.T) {
	for _, c := range []struct{ name, machine string }{
		{"csd_stall", "x86-4"},
		{"lost_ipi", "arm64-8"},
		{"hotplug_storm", ""},
		{"xcall_vs_smp_call", ""},
		{"broadcast", "x86-64"},
		{"broadcast", "arm64-256"},
	} {
		t.Run(c.name+"/"+c.machine, func(t *testing.T) {
			text, dat, k, d := runScenario(t, c.name, c.machine)
			text2, dat2, _, _ := runScenario(t, c.name, c.machine)
			if !bytes.Equal(text, text2) || !bytes.Equal(dat, dat2) {
				t.Errorf("two runs with the same seed wrote different traces")
			}
			if d.Entries() == 0 {
				t.Fatalf("no events in the trace")
			}
			checkReport(t, k, d, string(text))
		})
	}
}
