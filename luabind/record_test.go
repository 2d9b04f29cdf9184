package luabind_test

// The event record (emu/record.go) watches and never steers: on every
// built-in scenario, attaching a recorder changes nothing in the run.

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

// counter counts the events recorded.
type counter struct{ n int }

func (c *counter) Record(*emu.Event) { c.n++ }

// recRun is what must not change when a recorder is attached.
type recRun struct {
	order     uint64
	log       string
	decisions string
	err       string
}

func runRecorded(t *testing.T, sc scripts.Scenario, machine string, seed uint64, record bool) (recRun, int) {
	t.Helper()
	var events int
	var cols []*counter
	var out bytes.Buffer
	sess, err := luabind.New(luabind.Options{
		Machine: machine, MachineForced: machine != "", Seed: seed, Timeout: time.Minute, Stdout: &out,
		Sched: emu.SchedConfig{Record: true},
		Setup: func(k *xcall.Kernel) {
			if record {
				c := &counter{}
				cols = append(cols, c)
				k.M.AddRecorder(c)
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
	for _, c := range cols {
		events += c.n
	}
	return r, events
}

func TestRecordChangesNothing(t *testing.T) {
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
					with, events := runRecorded(t, sc, m, seed, true)
					without, _ := runRecorded(t, sc, m, seed, false)
					if with != without {
						t.Errorf("a recorder changed the run:\nwith    %+v\nwithout %+v", with, without)
					}
					if events == 0 {
						t.Errorf("nothing was recorded")
					}
				})
			}
		}
	}
}
