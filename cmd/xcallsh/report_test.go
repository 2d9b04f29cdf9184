package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/files"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/report"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/session"
	"github.com/xcallsh/xcallsh/emu"
)

// Reports that carry a schedule (explore's: a strategy, or a recorded list
// of decisions) replay under that schedule.
func TestReportWithSchedule(t *testing.T) {
	for _, c := range []struct {
		name  string
		sched emu.SchedConfig
		keep  func(h *report.Header, m *emu.Machine)
	}{
		{"pct", emu.SchedConfig{Strategy: emu.StrategyPCT, Depth: 3}, func(h *report.Header, m *emu.Machine) {
			h.Strategy, h.Depth = "pct", 3
		}},
		{"decisions", emu.SchedConfig{Record: true}, func(h *report.Header, m *emu.Machine) {
			h.Decisions = append([]emu.Decision{}, m.Decisions()...)
			if len(h.Decisions) == 0 {
				t.Error("seed 9 made no non-canonical decision")
			}
		}},
	} {
		rec := session.NewRecorder()
		rec.Log.Keep = true
		sess, err := session.New("arm64-8", true, 9, c.sched, 0, io.Discard, rec)
		if err != nil {
			t.Fatal(err)
		}
		_, execErr := sess.Exec("bcast.lua", broadcast)
		h := &report.Header{Seed: 9, Machine: "arm64-8", Outcome: session.Outcome(sess, execErr), Hash: rec.Log.Hash(), Sums: rec.Log.Sums()}
		c.keep(h, sess.K.M)
		file := filepath.Join(t.TempDir(), c.name+".lua")
		err = files.Write(file, func(w io.Writer) error {
			return report.Write(w, h, &report.Body{MadeBy: "a test", Spec: sess.Spec(), Forced: true,
				Scenario: report.ScriptScenario("bcast.lua", broadcast)})
		})
		sess.Close()
		if err != nil {
			t.Fatal(err)
		}
		st, out, errOut := xcallsh(t, "", "run", file)
		if st != 0 || !strings.Contains(out, "reproduced") {
			text, _ := os.ReadFile(file)
			t.Errorf("%s: exit %d\n%s\n%s\n%s", c.name, st, out, errOut, text)
		}
		text, _ := os.ReadFile(file)
		switch c.name {
		case "pct":
			// Without its strategy the run goes another way (and the
			// report, its header edited, is damaged).
			plain := strings.NewReplacer("--! strategy: pct\n", "", "--! depth: 3\n", "").Replace(string(text))
			if st, out, _ := xcallsh(t, "", "run", tempFile(t, "plain.lua", plain)); st != 2 || !strings.Contains(out, "the replay went another way") {
				t.Errorf("pct without its strategy: exit %d\n%s", st, out)
			}
		case "decisions":
			// The decisions alone make the schedule: under another seed the
			// trace is the same, but the replay is not "reproduced" (the seed
			// still seeds math.random).
			if st, out, _ := xcallsh(t, "", "run", file, "--seed", "0"); st != 1 ||
				!strings.Contains(out, "diverged: the report was made with seed 9; this replay used --seed 0\n") ||
				!strings.Contains(out, "the replay still ended with the recorded outcome") {
				t.Errorf("decisions with seed 0: exit %d\n%s", st, out)
			}
		}
	}
}
