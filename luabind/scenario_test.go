package luabind_test

// Golden scenario tests (after Go's internal/trace and go/printer tests),
// with the invariant validator (xcall/validate.go) on every run.
//
// TestScenarios runs every built-in scenario (package scripts) on every
// built-in machine. TestGolden runs the txtar files of
// testdata/scenarios: each names its machine, seed and script and holds the
// expected output; `go test ./luabind -run TestGolden -update` rewrites the
// expected sections. Every run happens twice and must give the same bytes.
//
// Directives: a scenario may say, in the comment lines it starts with,
//
//	-- machines: x86-4, arm64-8    run only on these built-in machines
//	-- machines: its own           run once, on the machine the script's
//	                               machine() call boots (not forced)
//	-- validate: allow-pending     work may be left queued at the end
//
// The second is for scenarios that lose work on purpose (an IPI dropped
// with no re-send, a fix turned off); without it, a csd still queued or
// locked when the machine has gone quiet is a violation.

import (
	"bytes"
	"flag"
	"fmt"
	"hash"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/txtar"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/luabind"
	"github.com/xcallsh/xcallsh/machines"
	"github.com/xcallsh/xcallsh/scripts"
	"github.com/xcallsh/xcallsh/xcall"
)

var update = flag.Bool("update", false, "rewrite the expected sections of testdata/scenarios/*.txtar, and docs/api.md's reference part (TestAPIDoc)")

// output is everything a run produces that the tests compare.
type output struct {
	Trace  string // the event record, one event a line (if kept)
	Dmesg  string // the kernel log
	Stdout string // print()
	Error  string // the script's error, "" if it ran to its end

	traceSum   string   // hash and line count of the trace, kept or not
	violations []string // the validator's findings
	summary    string   // how the run ended, for messages
}

// sink collects the event record of the current kernel, one event a line
// (emu.Event.String; the log is the dmesg section), as text (if keep) and
// as a hash of those lines (always: a long scenario records millions of
// events, too many to keep twice per run).
type sink struct {
	keep  bool
	trace bytes.Buffer
	hash  hash.Hash64
	lines int
}

func newSink(keep bool) *sink { return &sink{keep: keep, hash: fnv.New64a()} }

func (s *sink) Record(e *emu.Event) {
	if e.Kind == emu.EvPrintk {
		return // the dmesg section has the log
	}
	line := e.String() + "\n"
	s.hash.Write([]byte(line))
	s.lines++
	if s.keep {
		s.trace.WriteString(line)
	}
}

// runSpec says what to run.
type runSpec struct {
	machine      string // "" = the script's machine() or the default
	forced       bool   // machine overrides the script's machine()
	seed         uint64
	chunk        string // the chunk name errors carry
	src          string
	allowPending bool
	keepTrace    bool // keep the trace text, not only its hash
}

// run executes one script in a fresh session and collects its output.
func run(t *testing.T, r runSpec) output {
	t.Helper()
	var (
		col *sink
		v   *xcall.Validator
		old []string // findings on kernels a machine() call replaced
		out bytes.Buffer
	)
	sess, err := luabind.New(luabind.Options{
		Machine:       r.machine,
		MachineForced: r.forced,
		Seed:          r.seed,
		Timeout:       time.Minute,
		Stdout:        &out,
		Setup: func(k *xcall.Kernel) {
			if v != nil {
				old = append(old, v.Finish(true)...)
			}
			col = newSink(r.keepTrace)
			k.M.AddRecorder(col)
			v = xcall.NewValidator()
			v.Attach(k)
		},
	})
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	defer sess.Close()
	_, err = sess.Exec(r.chunk, r.src)
	k := sess.K
	o := output{Trace: col.trace.String(), Stdout: out.String(),
		traceSum: fmt.Sprintf("%d lines, fnv64a %016x", col.lines, col.hash.Sum64())}
	var dmesg strings.Builder
	for _, l := range k.M.Log() { // from boot on: the boot lines precede Setup
		dmesg.WriteString(l.String() + "\n")
	}
	o.Dmesg = dmesg.String()
	if err != nil {
		o.Error = err.Error() + "\n"
	}
	panicked, stuck, pending := k.Panicked(), k.M.Stuck(), k.M.Pending()
	allow := r.allowPending || err != nil || panicked != "" || stuck != "" || pending
	o.violations = append(old, v.Finish(allow)...)
	o.summary = fmt.Sprintf("machine %s, seed %d, ended at %d ns; error %q, panic %q, stuck %q, events pending %v",
		sess.Spec().Name, r.seed, k.M.Now(), o.Error, panicked, stuck, pending)
	return o
}

// runTwice runs r twice, checks that both runs produced the same bytes and
// that the validator found nothing, and returns the output.
func runTwice(t *testing.T, r runSpec) output {
	t.Helper()
	a := run(t, r)
	b := run(t, r)
	for _, f := range []struct{ name, a, b string }{
		{"trace", a.Trace, b.Trace},
		{"dmesg", a.Dmesg, b.Dmesg},
		{"stdout", a.Stdout, b.Stdout},
		{"error", a.Error, b.Error},
	} {
		if f.a != f.b {
			t.Errorf("not deterministic: the %s of two identical runs differs:\n%s", f.name, diff(f.a, f.b))
		}
	}
	if a.traceSum != b.traceSum && a.Trace == b.Trace {
		t.Errorf("not deterministic: the traces of two identical runs differ (%s, then %s); "+
			"compare two `xcallsh run --trace FILE` runs to see where", a.traceSum, b.traceSum)
	}
	if len(a.violations) > 0 {
		t.Errorf("the validator found %d violations (%s):\n%s\n(if the scenario leaves work queued on purpose, "+
			"say so with a leading '-- validate: allow-pending' comment)",
			len(a.violations), a.summary, strings.Join(a.violations, "\n"))
	}
	return a
}

// directives parses the leading comment lines of a script: "-- key: value".
func directives(src string) map[string]string {
	d := map[string]string{}
	for _, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		body, ok := strings.CutPrefix(line, "--")
		if !ok {
			break
		}
		key, val, ok := strings.Cut(body, ":")
		key = strings.TrimSpace(key)
		if !ok || (key != "machines" && key != "validate") {
			continue
		}
		d[key] = strings.TrimSpace(val)
	}
	return d
}

// machineList splits a "machines:" directive.
func machineList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// ownMachine is the "machines:" value of a scenario that boots its own
// machine with machine().
const ownMachine = "its own"

func checkDirectives(t *testing.T, d map[string]string) {
	t.Helper()
	if d["machines"] == ownMachine {
		return
	}
	for _, m := range machineList(d["machines"]) {
		if _, err := machines.Builtin(m); err != nil {
			t.Fatalf("-- machines: %q is not a built-in machine", m)
		}
	}
	if v, ok := d["validate"]; ok && v != "allow-pending" {
		t.Fatalf("-- validate: unknown value %q (known: allow-pending)", v)
	}
}

func TestScenarios(t *testing.T) {
	all := scripts.All()
	if len(all) == 0 {
		t.Fatal("no built-in scenarios")
	}
	for _, sc := range all {
		d := directives(sc.Source)
		if d["machines"] == ownMachine {
			t.Run(sc.Name+"/own", func(t *testing.T) {
				t.Parallel()
				o := runTwice(t, runSpec{
					chunk:        "scripts/" + sc.Name + ".lua",
					src:          sc.Source,
					allowPending: d["validate"] == "allow-pending",
				})
				if o.Error != "" {
					t.Errorf("the scenario failed: %s", o.Error)
				}
			})
			continue
		}
		only := machineList(d["machines"])
		for _, m := range machines.Builtins() {
			t.Run(sc.Name+"/"+m.Name, func(t *testing.T) {
				checkDirectives(t, d)
				if len(only) > 0 && !slices.Contains(only, m.Name) {
					t.Skipf("the scenario runs only on %s", strings.Join(only, ", "))
				}
				t.Parallel()
				o := runTwice(t, runSpec{
					machine:      m.Name,
					forced:       true,
					chunk:        "scripts/" + sc.Name + ".lua",
					src:          sc.Source,
					allowPending: d["validate"] == "allow-pending",
				})
				if o.Error != "" {
					t.Errorf("the scenario failed: %s", o.Error)
				}
			})
		}
	}
}

// Sections of a golden file, in the order -update writes them.
var (
	inputSections    = []string{"machine", "seed", "script.lua"}
	expectedSections = []string{"stdout", "error", "dmesg", "trace"}
)

func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "scenarios", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files in testdata/scenarios")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testGolden(t, file)
		})
	}
}

func testGolden(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ar := txtar.Parse(data)
	for _, f := range ar.Files {
		if !slices.Contains(inputSections, f.Name) && !slices.Contains(expectedSections, f.Name) {
			t.Fatalf("%s: unknown section %q (known: %s, %s)", file, f.Name,
				strings.Join(inputSections, ", "), strings.Join(expectedSections, ", "))
		}
	}
	src, ok := section(ar, "script.lua")
	if !ok {
		t.Fatalf("%s: no script.lua section", file)
	}
	r := runSpec{chunk: "script.lua", src: src, keepTrace: true}
	if m, ok := section(ar, "machine"); ok {
		r.machine, r.forced = strings.TrimSpace(m), true
	}
	if s, ok := section(ar, "seed"); ok {
		r.seed, err = strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			t.Fatalf("%s: seed section: %v", file, err)
		}
	}
	d := directives(src)
	checkDirectives(t, d)
	r.allowPending = d["validate"] == "allow-pending"

	got := runTwice(t, r)
	gotSection := map[string]string{
		"stdout": got.Stdout, "error": got.Error, "dmesg": got.Dmesg, "trace": got.Trace,
	}

	if *update {
		// stdout and error are always checked, dmesg and trace only when
		// the file has them; an error section exists only if the run fails.
		out := &txtar.Archive{Comment: ar.Comment}
		for _, name := range inputSections {
			if v, ok := section(ar, name); ok {
				out.Files = append(out.Files, txtar.File{Name: name, Data: []byte(v)})
			}
		}
		for _, name := range expectedSections {
			_, had := section(ar, name)
			switch name {
			case "error":
				had = got.Error != ""
			case "stdout":
				had = true
			}
			if had {
				out.Files = append(out.Files, txtar.File{Name: name, Data: []byte(gotSection[name])})
			}
		}
		if err := os.WriteFile(file, txtar.Format(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, name := range expectedSections {
		want, ok := section(ar, name)
		if !ok && (name == "dmesg" || name == "trace") {
			continue
		}
		if g := gotSection[name]; g != want {
			t.Errorf("%s: the %s differs from the golden file (go test ./luabind -run TestGolden -update rewrites it):\n%s",
				file, name, diff(want, g))
		}
	}
}

// section returns the data of the archive's file name, if it has one.
func section(a *txtar.Archive, name string) (string, bool) {
	for _, f := range a.Files {
		if f.Name == name {
			return string(f.Data), true
		}
	}
	return "", false
}

// diff shows where want and got first part, with a few lines of context.
func diff(want, got string) string {
	w := strings.Split(want, "\n")
	g := strings.Split(got, "\n")
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "first difference at line %d (want %d lines, got %d):\n", i+1, len(w)-1, len(g)-1)
	for j := max(0, i-2); j < i; j++ {
		fmt.Fprintf(&b, "    %s\n", w[j])
	}
	for j := i; j < min(len(w), i+4); j++ {
		fmt.Fprintf(&b, "  - %s\n", w[j])
	}
	for j := i; j < min(len(g), i+4); j++ {
		fmt.Fprintf(&b, "  + %s\n", g[j])
	}
	return b.String()
}

// TestGoldenFilesRoundTrip checks that txtar gives back each golden file's
// bytes, so that -update changes only the sections a run rewrites.
func TestGoldenFilesRoundTrip(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "scenarios", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if out := txtar.Format(txtar.Parse(data)); !bytes.Equal(out, data) {
			t.Errorf("%s: txtar does not give back the file's bytes:\n%s", file, diff(string(data), string(out)))
		}
	}
}

func TestDirectives(t *testing.T) {
	if d := directives("-- A scenario.\n--   machines: x86-4, arm64-8\n-- validate: allow-pending\nlocal x\n-- machines: y"); d["machines"] != "x86-4, arm64-8" || d["validate"] != "allow-pending" {
		t.Errorf("directives %q", d)
	}
}

// TestSeedMatters checks that the seed changes the schedule: the seed-7
// golden's script, run with seed 0, gives another trace.
func TestSeedMatters(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "scenarios", "seed-7.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	src, _ := section(txtar.Parse(data), "script.lua")
	r := runSpec{machine: "x86-4", forced: true, chunk: "script.lua", src: src, keepTrace: true}
	zero := runTwice(t, r)
	r.seed = 7
	seven := runTwice(t, r)
	if zero.Trace == seven.Trace || zero.Stdout == seven.Stdout {
		t.Errorf("seeds 0 and 7 gave the same run:\n%s", seven.Stdout)
	}
}

// TestValidatorCatchesLostWork runs a golden that loses work on purpose
// without its allow-pending directive: the validator must report the csds
// left on the queue.
func TestValidatorCatchesLostWork(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "scenarios", "lost-async-ipi.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	src, _ := section(txtar.Parse(data), "script.lua")
	o := run(t, runSpec{machine: "arm64-8", forced: true, chunk: "script.lua", src: src})
	got := strings.Join(o.violations, "\n")
	t.Logf("violations:\n%s", got)
	if len(o.violations) != 2 || !strings.Contains(got, "for CPU 1, never ran") {
		t.Errorf("want two csds reported as never run, got:\n%s", got)
	}
}
