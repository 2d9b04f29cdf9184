package traces

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/irqchip"
	"github.com/xcallsh/xcallsh/xcall"
)

// traceCmd returns the trace-cmd binary. Without it the trace.dat tests
// are skipped, loudly, except under CI=true, where it is a failure
// (.ci/run installs it).
func traceCmd(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("trace-cmd")
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("trace-cmd is not installed and CI=true: the trace.dat output cannot be checked (apt-get install trace-cmd)")
	}
	t.Skip("!!! SKIPPED: trace-cmd is not installed, so the trace.dat output is NOT checked against `trace-cmd report` (apt-get install trace-cmd; under CI=true this fails) !!!")
	return ""
}

// syntheticRun is a few events of every kind that has a tracepoint, on
// kernel k's machine, with a time gap past the ring buffer's 27-bit delta
// and enough events to fill several pages.
func syntheticRun(k *xcall.Kernel) []*emu.Event {
	x86 := k.Spec.IsX86()
	vec, resched := irqchip.CallFunctionSingleVector, irqchip.RescheduleVector
	if !x86 {
		vec, resched = irqchip.IPICallFunc, irqchip.IPIReschedule
	}
	evs := []*emu.Event{
		ev(emu.EvCSDQueue, 0, 12_345_678_000, "bash", 1234, "...1.", func(e *emu.Event) {
			e.Target, e.Site, e.Func, e.CSD = 1, "smp_call_function_single+0x6e/0xa0", "do_nothing", 3
		}),
		ev(emu.EvIPISend, 0, 12_345_678_901, "bash", 1234, "d..1.", func(e *emu.Event) {
			e.Targets, e.IDs, e.Vector, e.Site = []int{1}, []uint64{1}, vec, "smp_call_function_single+0x6e/0xa0"
		}),
		ev(emu.EvIPISend, 0, 12_345_679_901, "bash", 1234, "d..1.", func(e *emu.Event) {
			e.Targets, e.IDs, e.Vector, e.Site = []int{1, 2, 3}, []uint64{2, 3, 4}, vec, "smp_call_function_many_cond+0x2b6/0x5b0"
		}),
		ev(emu.EvIPISend, 2, 12_345_679_950, "kworker/2:1", 88, "d..2.", func(e *emu.Event) {
			e.Targets, e.IDs, e.Vector, e.Site = []int{3}, []uint64{5}, resched, "wake_up_if_idle+0x6e/0xa0"
		}),
		// a local call: no csd
		ev(emu.EvCSDFuncEntry, 0, 12_345_680_000, "bash", 1234, "d..1.", func(e *emu.Event) { e.Func = "do_nothing" }),
		ev(emu.EvCSDFuncExit, 0, 12_345_680_100, "bash", 1234, "d..1.", func(e *emu.Event) { e.Func = "do_nothing" }),
		ev(emu.EvIPIEntry, 1, 12_345_700_000, "<idle>", 0, "d.h1.", func(e *emu.Event) { e.Vector = vec }),
		// softirqs (include/trace/events/irq.h), a raise in the handler and the run at its exit
		ev(emu.EvSoftirqRaise, 1, 12_345_700_010, "<idle>", 0, "d.h1.", func(e *emu.Event) { e.Vector = 4 }),
		ev(emu.EvSoftirqEntry, 1, 12_345_700_020, "<idle>", 0, "..s1.", func(e *emu.Event) { e.Vector = 4 }),
		ev(emu.EvSoftirqExit, 1, 12_345_700_030, "<idle>", 0, "..s1.", func(e *emu.Event) { e.Vector = 4 }),
		ev(emu.EvCSDFuncEntry, 1, 12_345_701_000, "<idle>", 0, "d.h1.", func(e *emu.Event) { e.Func, e.CSD = "scf_handler_1 [scftorture]", 3 }),
		ev(emu.EvCSDFuncExit, 1, 12_345_702_000, "<idle>", 0, "d.h1.", func(e *emu.Event) { e.Func, e.CSD = "scf_handler_1 [scftorture]", 3 }),
		ev(emu.EvIPIExit, 1, 12_345_702_499, "<idle>", 0, "d.h1.", func(e *emu.Event) { e.Vector = vec }),
		// a device interrupt's action (include/trace/events/irq.h: irq_handler_entry, _exit)
		ev(emu.EvIPIEntry, 2, 12_345_710_000, "<idle>", 0, "d.h..", func(e *emu.Event) { e.Vector = irqchip.DeviceVector(x86) }),
		ev(emu.EvIPIExit, 2, 12_345_710_500, "<idle>", 0, "d.h..", func(e *emu.Event) { e.Vector = irqchip.DeviceVector(x86) }),
		ev(emu.EvSchedSwitch, 1, 15_000_000_000, "<idle>", 0, "d..2.", func(e *emu.Event) {
			e.PrevComm, e.PrevPID, e.PrevState, e.NextComm, e.NextPID = "swapper/1", 0, "R", "kworker/1:1", 45
		}),
		ev(emu.EvSchedSwitch, 1, 15_000_000_000, "kworker/1:1", 45, "d..2.", func(e *emu.Event) {
			e.PrevComm, e.PrevPID, e.PrevState, e.NextComm, e.NextPID = "kworker/1:1", 45, "R+", "swapper/1", 0
		}),
		ev(emu.EvSchedSwitch, 2, 15_000_000_000, "kworker/2:1", 88, "d..2.", func(e *emu.Event) {
			e.PrevComm, e.PrevPID, e.PrevState, e.NextComm, e.NextPID = "kworker/2:1", 88, "D", "swapper/2", 0
		}),
		ev(emu.EvSchedWakeup, 0, 17_000_001_000, "<idle>", 0, "d.h2.", func(e *emu.Event) { e.Target, e.TaskComm, e.TaskPID = 1, "sh", 77 }),
		ev(emu.EvSchedMigrate, 0, 17_000_001_500, "migration/0", 15, "d..2.", func(e *emu.Event) {
			e.Source, e.Target, e.TaskComm, e.TaskPID = 1, 2, "sh", 77
		}),
		ev(emu.EvIPIElide, 0, 17_000_001_600, "sh", 77, "d..1.", func(e *emu.Event) { e.Target = 2 }),
		ev(emu.EvCpuhpEnter, 1, 19_000_000_000, "cpuhp/1", 19, ".....", func(e *emu.Event) {
			e.Target, e.State, e.Fn, e.Dest = 1, 211, "smpcfd_dying_cpu", 0
		}),
		ev(emu.EvCpuhpMultiEnter, 1, 19_000_001_000, "cpuhp/1", 19, ".....", func(e *emu.Event) {
			e.Target, e.State, e.Fn, e.Dest = 1, 66, "blk_mq_hctx_notify_online", 0
		}),
		ev(emu.EvCpuhpExit, 1, 19_000_010_000, "cpuhp/1", 19, ".....", func(e *emu.Event) { e.Target, e.State, e.Idx, e.Ret = 1, 210, 211, 0 }),
	}
	// Pages: 600 queue/entry/exit triples on CPU 3, 1.5 µs apart.
	for i := 0; i < 600; i++ {
		t := int64(20_000_000_000 + 1500*i)
		id := uint64(100 + i)
		evs = append(evs,
			ev(emu.EvCSDQueue, 3, t, "scftorture", 200, "...1.", func(e *emu.Event) {
				e.Target, e.Site, e.Func, e.CSD = 3, "smp_call_function_single+0x6e/0xa0", "scf_handler_1 [scftorture]", id
			}),
			ev(emu.EvCSDFuncEntry, 3, t+500, "scftorture", 200, "d..1.", func(e *emu.Event) { e.Func, e.CSD = "scf_handler_1 [scftorture]", id }),
			ev(emu.EvCSDFuncExit, 3, t+1000, "scftorture", 200, "d..1.", func(e *emu.Event) { e.Func, e.CSD = "scf_handler_1 [scftorture]", id }))
	}
	return evs
}

// kernelLine is one line of the ftrace text or of `trace-cmd report`,
// split into what both print.
type kernelLine struct {
	comm, pid, cpu, flags, ts, name, fields string
}

var (
	ftraceLineRE   = regexp.MustCompile(`^\s*(.*)-(\d+)\s+\[(\d+)\]\s+(\S{5})\s+(\d+\.\d{6}): (\w+): (.*)$`)
	reportLineRE   = regexp.MustCompile(`^\s*(.*)-(\d+)\s+\[(\d+)\]\s+(\d+\.\d{6}): (\w+):\s(.*)$`)
	reportLatRE    = regexp.MustCompile(`^\s*\S*-\d+\s+\d+(\S{5})\s+\d+\.\d{6}: `)
	symSizeRE      = regexp.MustCompile(`(\+0x[0-9a-f]+)/0x[0-9a-f]+`)
	symModuleRE    = regexp.MustCompile(` \[\w+\]`)
	ptrRE          = regexp.MustCompile(`csd=(?:0x)?([0-9a-f]+|\(nil\))`)
	cpumaskFieldRE = regexp.MustCompile(`cpumask=(\S+)`)
	hexMaskRE      = regexp.MustCompile(`^[0-9a-f]{8}(,[0-9a-f]{8})*$`)
)

// normFields makes the fields of both comparable: whitespace collapsed,
// and the four things trace-cmd prints differently from the kernel for any
// kernel's trace.dat: %pS without the symbol's size (kallsyms has none),
// %ps without the module, %p unhashed with 0x (NULL as "(nil)"), and a cpumask
// (__get_cpumask) as a CPU list rather than %*pb's hex.
func normFields(s string, nr int) string {
	s = strings.Join(strings.Fields(s), " ")
	s = symSizeRE.ReplaceAllString(s, "$1")
	s = symModuleRE.ReplaceAllString(s, "")
	s = ptrRE.ReplaceAllStringFunc(s, func(m string) string {
		v, _ := strconv.ParseUint(ptrRE.FindStringSubmatch(m)[1], 16, 64) // "(nil)": 0
		return fmt.Sprintf("csd=%#x", v)
	})
	s = cpumaskFieldRE.ReplaceAllStringFunc(s, func(m string) string {
		v := strings.TrimPrefix(m, "cpumask=")
		if hexMaskRE.MatchString(v) {
			return "cpumask=" + reportCPUList(hexCPUs(strings.ReplaceAll(v, ",", "")))
		}
		return m
	})
	return s
}

// hexCPUs are the CPUs of a %*pb bitmap (commas removed), ascending.
func hexCPUs(s string) []int {
	var out []int
	for i := len(s) - 1; i >= 0; i-- {
		v, _ := strconv.ParseUint(s[i:i+1], 16, 8)
		for b := 0; b < 4; b++ {
			if v&(1<<b) != 0 {
				out = append(out, (len(s)-1-i)*4+b)
			}
		}
	}
	return out
}

func reportCPUList(cpus []int) string {
	var parts []string
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", cpus[i], cpus[j]))
		} else {
			parts = append(parts, strconv.Itoa(cpus[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// parseFtrace splits our ftrace text, header dropped.
func parseFtrace(t *testing.T, text string) []kernelLine {
	var out []kernelLine
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		m := ftraceLineRE.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("ftrace line not understood: %q", l)
		}
		out = append(out, kernelLine{m[1], m[2], m[3], m[4], m[5], m[6], m[7]})
	}
	return out
}

// report runs `trace-cmd report -N` (no plugins: every event printed by
// its own print fmt) and `-N -l` (the latency flags) on file.
func report(t *testing.T, bin, file string) []kernelLine {
	run := func(args ...string) []string {
		cmd := exec.Command(bin, append([]string{"report", "-N"}, append(args, file)...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("trace-cmd report %v: %v\n%s", args, err, stderr.String())
		}
		var lines []string
		for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
			if strings.HasPrefix(l, "cpus=") || l == "" {
				continue
			}
			lines = append(lines, l)
		}
		return lines
	}
	plain, lat := run(), run("-l")
	if len(plain) != len(lat) {
		t.Fatalf("trace-cmd report: %d lines, with -l %d", len(plain), len(lat))
	}
	var out []kernelLine
	for i, l := range plain {
		m := reportLineRE.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("trace-cmd report line not understood: %q", l)
		}
		f := reportLatRE.FindStringSubmatch(lat[i])
		if f == nil {
			t.Fatalf("trace-cmd report -l line not understood: %q", lat[i])
		}
		out = append(out, kernelLine{m[1], m[2], m[3], f[1], m[4], m[5], m[6]})
	}
	return out
}

// checkReport writes the record of events as trace.dat and as ftrace
// text and checks that `trace-cmd report` reads from the trace.dat the
// events of the text: same names, CPUs, tasks, flags, times to the µs and
// fields.
func checkReport(t *testing.T, k *xcall.Kernel, dat *TraceDat, text string) {
	t.Helper()
	bin := traceCmd(t)
	file := filepath.Join(t.TempDir(), "trace.dat")
	var buf bytes.Buffer
	if _, err := dat.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	want := parseFtrace(t, text)
	got := report(t, bin, file)
	if uint64(len(want)) != dat.Entries() {
		t.Errorf("text has %d events, trace.dat %d", len(want), dat.Entries())
	}
	// trace-cmd merges the CPUs' buffers by time; events of one instant on
	// different CPUs may come in another order than in the record, so
	// compare each CPU's events in order.
	byCPU := func(ls []kernelLine) map[string][]kernelLine {
		m := map[string][]kernelLine{}
		for _, l := range ls {
			m[l.cpu] = append(m[l.cpu], l)
		}
		return m
	}
	w, g := byCPU(want), byCPU(got)
	if len(got) != len(want) {
		t.Errorf("trace-cmd report shows %d events, the text %d", len(got), len(want))
	}
	nr := k.NrCPUIDs()
	for cpu := 0; cpu < nr; cpu++ {
		c := strconv.Itoa(cpu)
		if c = fmt.Sprintf("%03d", cpu); len(w[c]) == 0 && len(g[c]) == 0 {
			continue
		}
		if len(w[c]) != len(g[c]) {
			t.Errorf("CPU %s: trace-cmd shows %d events, the text %d", c, len(g[c]), len(w[c]))
			continue
		}
		for i := range w[c] {
			a, b := w[c][i], g[c][i]
			a.fields, b.fields = normFields(a.fields, nr), normFields(b.fields, nr)
			if a != b {
				t.Errorf("CPU %s event %d:\ntext      %+v\ntrace-cmd %+v", c, i, a, b)
			}
		}
	}
}

func TestTraceDatReportSynthetic(t *testing.T) {
	for _, m := range []string{"x86-4", "arm64-8"} {
		t.Run(m, func(t *testing.T) {
			k := bootFor(t, m)
			dat, ft := NewTraceDat(k), NewFtraceWriter(k)
			for _, e := range syntheticRun(k) {
				dat.Record(e)
				ft.Record(e)
			}
			var text bytes.Buffer
			ft.WriteTo(&text)
			if n := len(dat.cpus[3].data) / datPageSize; n < 3 {
				t.Errorf("CPU 3 has %d pages, want several", n)
			}
			checkReport(t, k, dat, text.String())
		})
	}
}

// The same events give the same bytes; the file is page aligned.
func TestTraceDatDeterministic(t *testing.T) {
	k := bootFor(t, "x86-4")
	var outs [2]bytes.Buffer
	for i := range outs {
		d := NewTraceDat(k)
		for _, e := range syntheticRun(k) {
			d.Record(e)
		}
		d.WriteTo(&outs[i])
	}
	if !bytes.Equal(outs[0].Bytes(), outs[1].Bytes()) {
		t.Fatal("two writes of the same events differ")
	}
	b := outs[0].Bytes()
	if !bytes.HasPrefix(b, []byte("\x17\x08\x44tracing6\x00")) || len(b)%datPageSize != 0 {
		t.Errorf("not a page-aligned trace.dat v6: % x ... (%d bytes)", b[:16], len(b))
	}
}

// The format files are laid out as the kernel lays out the entry struct.
func TestTraceDatFormatFile(t *testing.T) {
	want := "name: ipi_send_cpumask\nID: 502\nformat:\n" +
		"\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n" +
		"\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n" +
		"\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n" +
		"\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n" +
		"\tfield:__data_loc cpumask_t[] cpumask;\toffset:8;\tsize:4;\tsigned:0;\n" +
		"\tfield:void * callsite;\toffset:16;\tsize:8;\tsigned:0;\n" +
		"\tfield:void * callback;\toffset:24;\tsize:8;\tsigned:0;\n\n" +
		`print fmt: "cpumask=%s callsite=%pS callback=%pS", __get_cpumask(cpumask), REC->callsite, REC->callback` + "\n"
	if got := tpIPISendCPUMask.formatFile(); got != want {
		t.Errorf("format:\n%s\nwant:\n%s", got, want)
	}
	if got, want := tpSchedSwitch.offset(6), 60; got != want {
		t.Errorf("sched_switch next_prio at %d, want %d", got, want)
	}
	if got, want := tpSchedSwitch.size(), 64; got != want {
		t.Errorf("sched_switch size %d, want %d", got, want)
	}
	if got, want := tpCpuhpEnter.offset(3), 24; got != want {
		t.Errorf("cpuhp_enter fun at %d, want %d", got, want)
	}
}

// The irq system's formats (the softirq events) are in a trace.dat only
// when the run has a softirq event: the trace.dat of every other run is
// what it was before the softirq model.
func TestTraceDatSoftirqFormatsOnlyWhenUsed(t *testing.T) {
	k := bootFor(t, "x86-4")
	for _, withSoftirq := range []bool{false, true} {
		dat := NewTraceDat(k)
		dat.Record(ev(emu.EvIPIElide, 0, 1_000, "sh", 77, "d..1.", func(e *emu.Event) { e.Target = 2 }))
		if withSoftirq {
			dat.Record(ev(emu.EvSoftirqRaise, 0, 2_000, "sh", 77, "d....", func(e *emu.Event) { e.Vector = 3 }))
		}
		var b bytes.Buffer
		if _, err := dat.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		if got := bytes.Contains(b.Bytes(), []byte("name: softirq_raise\n")); got != withSoftirq {
			t.Errorf("with a softirq event %v: softirq_raise's format in the file: %v", withSoftirq, got)
		}
	}
}

// irq_handler_entry and _exit are among the irq system's formats only in
// a run that took a device interrupt: a run with softirqs alone keeps the
// formats it had.
func TestTraceDatIRQHandlerFormatsOnlyWhenUsed(t *testing.T) {
	k := bootFor(t, "x86-4")
	for _, withDev := range []bool{false, true} {
		dat := NewTraceDat(k)
		dat.Record(ev(emu.EvSoftirqRaise, 0, 2_000, "sh", 77, "d....", func(e *emu.Event) { e.Vector = 3 }))
		if withDev {
			dat.Record(ev(emu.EvIPIEntry, 0, 3_000, "sh", 77, "d.h..", func(e *emu.Event) { e.Vector = irqchip.X86DeviceVector }))
		}
		var b bytes.Buffer
		if _, err := dat.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"irq_handler_entry", "irq_handler_exit"} {
			if got := bytes.Contains(b.Bytes(), []byte("name: "+name+"\n")); got != withDev {
				t.Errorf("with a device interrupt %v: %s's format in the file: %v", withDev, name, got)
			}
		}
		if !bytes.Contains(b.Bytes(), []byte("name: softirq_raise\n")) {
			t.Errorf("with a device interrupt %v: no softirq_raise format", withDev)
		}
	}
	want := "\tfield:int irq;\toffset:8;\tsize:4;\tsigned:1;\n" +
		"\tfield:__data_loc char[] name;\toffset:12;\tsize:4;\tsigned:0;\n"
	if f := tpIRQHandlerEntry.formatFile(); !strings.Contains(f, want) {
		t.Errorf("irq_handler_entry format:\n%s\nwant fields\n%s", f, want)
	}
}
