package shell

import (
	"fmt"
	"io"
	"strings"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/files"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/report"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/session"
	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
)

// scenario is the shell session as Lua: the steps, in order, each under
// its chunk name (so function names in the trace and error positions are
// the same as in the session) and each in pcall, as the shell goes on after
// an error.
func (sh *Shell) scenario() string {
	var b strings.Builder
	b.WriteString(`-- The session, step by step. Each step is a chunk the shell ran, under the
-- chunk name it had there, so the names of its functions in the trace and the
-- positions in error messages stay the same. As in the shell, an error is
-- printed and the next step runs.
local function step(name, src)
  local chunk = assert(loadstring(src, name))
  local ok, err = pcall(chunk)
  if not ok then print(err) end
end
`)
	if len(sh.steps) == 0 {
		b.WriteString("\n-- (the session ran no commands)\n")
	}
	for _, s := range sh.steps {
		b.WriteString("\n")
		for _, l := range strings.Split(s.line, "\n") {
			b.WriteString("-- xcallsh> " + l + "\n")
		}
		fmt.Fprintf(&b, "step(%s, %s)\n", report.LuaQuote(s.name), report.LongString(s.src))
	}
	return b.String()
}

// report writes the session as a report. To record the report.Outcome, trace
// hash and checksums that `xcallsh run FILE` will check, it replays the
// report in a fresh session first; that replay also shows whether the
// report matches what this session did.
func (sh *Shell) writeReport(file string) error {
	if err := sh.ensureViews(); err != nil {
		return fmt.Errorf("report: %v", err)
	}
	spec := sh.sess.Spec()
	body := &report.Body{
		MadeBy:   fmt.Sprintf("the xcallsh shell (%d steps)", len(sh.steps)),
		Spec:     spec,
		Forced:   sh.forced,
		Scenario: sh.scenario(),
	}
	h := &report.Header{Seed: sh.seed, Machine: spec.Name, Outcome: report.Outcome{Kind: "ok"}}
	var draft strings.Builder
	if err := report.Write(&draft, h, body); err != nil {
		return fmt.Errorf("report: %v", err)
	}

	rec := session.NewRecorder()
	rec.Log.Keep = true
	replay, err := session.New(machines.Default, false, sh.seed, emu.SchedConfig{}, 0, io.Discard, rec)
	if err != nil {
		return fmt.Errorf("report: %v", err)
	}
	defer replay.Close()
	live := sh.sess
	sh.sess = replay // Ctrl-C stops the replay
	level := sh.guard(func() {
		_, err = replay.Exec(file, draft.String())
	})
	sh.sess = live
	if level > 0 {
		return fmt.Errorf("report: interrupted while replaying the session; %s not written", file)
	}
	h.Outcome = session.Outcome(replay, err)
	h.Hash = rec.Log.Hash()
	h.Sums = rec.Log.Sums()
	if err := files.Write(file, func(w io.Writer) error { return report.Write(w, h, body) }); err != nil {
		return fmt.Errorf("report: %v", err)
	}
	fmt.Fprintf(sh.out, "wrote %s: %d steps; its replay ends with outcome %s, trace %016x (%d events)\n",
		file, len(sh.steps), h.Outcome.Kind, h.Hash, h.Sums.Events)
	liveOC := session.Outcome(sh.sess, nil)
	if liveOC == h.Outcome && sh.rec.Log.Hash() == h.Hash {
		fmt.Fprintln(sh.out, "it reproduces this session exactly; replay it with: xcallsh run "+file)
		return nil
	}
	fmt.Fprintf(sh.out, "note: this session is at outcome %s, trace %016x: the report does not reproduce it exactly\n",
		liveOC.Kind, sh.rec.Log.Hash())
	for _, n := range sh.notes {
		fmt.Fprintln(sh.out, "  "+n)
	}
	return nil
}
