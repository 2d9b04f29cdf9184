package xcall_test

// The flush of flush.go against the straight-line reference flush of
// flush_ref_test.go, on whole scenarios: every golden run of
// luabind/testdata/scenarios and every built-in scenario (package scripts,
// which reach the paths the goldens do not: the offline warning, IRQ_WORK
// and TTWU entries, the dequeued hook) must give the same trace, kernel log
// and output with either. The scenarios need Lua, so this is an external
// test package: package xcall itself does not import luabind.

import (
	"bytes"
	"fmt"
	"hash"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/luabind"
	"github.com/xcallsh/xcallsh/scripts"
	"github.com/xcallsh/xcallsh/xcall"
)

// traceHash hashes the record's events (but the log's) one a line, as
// luabind's golden test writes them.
type traceHash struct {
	hash  hash.Hash64
	lines int
	text  strings.Builder // the lines themselves, only if keep
	keep  bool
}

func (h *traceHash) Record(e *emu.Event) {
	if e.Kind == emu.EvPrintk {
		return // the log is compared on its own
	}
	line := e.String() + "\n"
	h.hash.Write([]byte(line))
	h.lines++
	if h.keep {
		h.text.WriteString(line)
	}
}

// scenarioRun is what one run of a script showed.
type scenarioRun struct {
	trace string // "N lines, hash H" of the ftrace lines
	rest  string // the kernel log, print() output and error
	text  string // the trace lines, if kept
}

// runScenario runs src (on machine, forced unless ""), with the
// reference flush if ref.
func runScenario(t *testing.T, machine string, seed uint64, src string, ref, keep bool) scenarioRun {
	t.Helper()
	var (
		h   *traceHash
		out bytes.Buffer
	)
	sess, err := luabind.New(luabind.Options{
		Machine:       machine,
		MachineForced: machine != "",
		Seed:          seed,
		Timeout:       time.Minute,
		Stdout:        &out,
		Setup: func(k *xcall.Kernel) {
			h = &traceHash{hash: fnv.New64a(), keep: keep}
			k.M.AddRecorder(h)
			if ref {
				xcall.UseReferenceFlush(k)
			}
		},
	})
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	defer sess.Close()
	_, err = sess.Exec("script.lua", src)
	return scenarioRun{
		trace: fmt.Sprintf("%d lines, hash %016x", h.lines, h.hash.Sum64()),
		rest:  endText(sess, out.String(), err),
		text:  h.text.String(),
	}
}

// compareFlushes runs src with both flushes and fails if they differ.
func compareFlushes(t *testing.T, machine string, seed uint64, src string) scenarioRun {
	t.Helper()
	prod := runScenario(t, machine, seed, src, false, true)
	ref := runScenario(t, machine, seed, src, true, false)
	if prod.trace != ref.trace {
		t.Errorf("trace: flush.go gives %s, the reference flush %s", prod.trace, ref.trace)
	}
	if prod.rest != ref.rest {
		t.Errorf("log, output or end differ:\n flush.go:\n%s\n reference:\n%s", prod.rest, ref.rest)
	}
	return prod
}

// goldenSections splits a golden file into its "-- NAME --" sections.
func goldenSections(data string) map[string]string {
	s := map[string]string{}
	name := ""
	for _, line := range strings.SplitAfter(strings.ReplaceAll(data, "\r\n", "\n"), "\n") {
		l := strings.TrimSuffix(line, "\n")
		if n, ok := strings.CutPrefix(l, "-- "); ok && strings.HasSuffix(n, " --") {
			name = strings.TrimSpace(strings.TrimSuffix(n, " --"))
			s[name] = ""
			continue
		}
		if name != "" && line != "" {
			s[name] += l + "\n"
		}
	}
	return s
}

func TestReferenceFlushGoldens(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "luabind", "testdata", "scenarios", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files (%v)", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			sec := goldenSections(string(data))
			var seed uint64
			if s, ok := sec["seed"]; ok {
				if seed, err = strconv.ParseUint(strings.TrimSpace(s), 10, 64); err != nil {
					t.Fatal(err)
				}
			}
			prod := compareFlushes(t, strings.TrimSpace(sec["machine"]), seed, sec["script.lua"])
			// The harness runs the scenario as luabind's TestGolden does.
			if want, ok := sec["trace"]; ok && prod.text != want {
				t.Errorf("the trace differs from the golden file's: this test does not run the scenario as TestGolden does")
			}
		})
	}
}

func TestReferenceFlushScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("long: every built-in scenario, twice, on two machines")
	}
	for _, sc := range scripts.All() {
		for _, m := range []string{"x86-4", "arm64-8"} {
			t.Run(sc.Name+"/"+m, func(t *testing.T) {
				t.Parallel()
				for _, seed := range []uint64{0, 5} {
					compareFlushes(t, m, seed, sc.Source)
				}
			})
		}
	}
}

// endText is what a golden scenario run leaves besides its trace: the
// kernel log, the script's stdout, its error, and how the machine ended
// (a panic, a stuck CPU, the clock, the hash of the executed order).
func endText(sess *luabind.Session, stdout string, err error) string {
	var b strings.Builder
	for _, l := range sess.K.M.Log() {
		b.WriteString(l.String() + "\n")
	}
	b.WriteString("-- stdout --\n" + stdout)
	fmt.Fprintf(&b, "-- error --\n%v\n-- panic %q, stuck %q, ended at %d, order %x --\n",
		err, sess.K.Panicked(), sess.K.M.Stuck(), sess.K.M.Now(), sess.K.M.OrderHash())
	return b.String()
}
