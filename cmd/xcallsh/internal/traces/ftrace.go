package traces

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/irqchip"
	"github.com/xcallsh/xcallsh/xcall"
)

// The ftrace text: the record as a 6.x kernel's /sys/kernel/tracing/trace
// prints it with the nop tracer and the default trace options
// (docs/traces.md#ftrace-text). The header is print_func_help_header_irq()'s
// (kernel/trace/trace.c), each line trace_print_context() and
// trace_print_lat_fmt()'s context (kernel/trace/trace_output.c) followed by
// the event's name and its TP_printk output (tracepoints in
// tracedat_events.go).

// Ftrace formats events of the record as ftrace text lines.
type Ftrace struct {
	arch tpArch
	hits []tpHit
}

// NewFtrace returns the formatter for the machine of kernel k.
func NewFtrace(k *xcall.Kernel) *Ftrace {
	return newFtrace(k.Spec.IsX86(), k.Chip, k.NrCPUIDs())
}

func newFtrace(x86 bool, chip irqchip.Chip, nr int) *Ftrace {
	return &Ftrace{arch: newTPArch(x86, chip, nr)}
}

// Append appends the lines e is shown as (none for a kind with no kernel
// tracepoint, two for an arm64 IPI send: ipi_send_cpu and ipi_raise) and
// returns the number of lines.
func (f *Ftrace) Append(dst []byte, e *emu.Event) ([]byte, int) {
	if e.CPU < 0 {
		return dst, 0 // the operator is no CPU: nothing the kernel would trace
	}
	f.hits = f.arch.hitsOf(f.hits[:0], e)
	for i := range f.hits {
		dst = appendContext(dst, e)
		dst = append(dst, f.hits[i].tp.name...)
		dst = append(dst, ": "...)
		dst = f.appendPrint(dst, &f.hits[i])
		dst = append(dst, '\n')
	}
	return dst, len(f.hits)
}

// appendContext is trace_print_context() with the irq-info option:
// "%16s-%-7d [%03d] " then the five latency flags, then " %5lu.%06lu: ",
// the time rounded to the microsecond (ns2usecs()).
func appendContext(b []byte, e *emu.Event) []byte {
	c, p := contextOf(e)
	comm := commOf(c)
	pid := strconv.Itoa(p)
	for n := len(comm); n < 16; n++ {
		b = append(b, ' ')
	}
	b = append(b, comm...)
	b = append(b, '-')
	b = append(b, pid...)
	for n := len(pid); n < 7; n++ {
		b = append(b, ' ')
	}
	b = fmt.Appendf(b, " [%03d] ", e.CPU)
	b = append(b, e.Flags[:]...)
	us := (e.T + 500) / 1000
	return fmt.Appendf(b, " %5d.%06d: ", us/1e6, us%1e6)
}

// commOf is a comm as the kernel keeps it: TASK_COMM_LEN-1 bytes.
func commOf(s string) string {
	if len(s) > 15 {
		return s[:15]
	}
	return s
}

// sym prints a symbol field: %pS / %ps of NULL is "0x0".
func sym(s string) string {
	if s == "" {
		return "0x0"
	}
	return s
}

// appendPrint appends h's TP_printk output.
func (f *Ftrace) appendPrint(b []byte, h *tpHit) []byte {
	switch h.tp {
	case tpIPIRaise:
		b = append(b, "target_mask="...)
		b = appendBitmap(b, h.mask, maskBits(f.arch.nr))
		return fmt.Appendf(b, " (%s)", h.s[1])
	case tpIPISendCPU:
		return fmt.Appendf(b, "cpu=%d callsite=%s callback=%s", uint32(h.n[0]), sym(h.s[1]), sym(h.s[2]))
	case tpIPISendCPUMask:
		b = append(b, "cpumask="...)
		b = appendBitmap(b, h.mask, maskBits(f.arch.nr))
		return fmt.Appendf(b, " callsite=%s callback=%s", sym(h.s[1]), sym(h.s[2]))
	case tpIPIEntry, tpIPIExit:
		return fmt.Appendf(b, "(%s)", h.s[0])
	case tpCSDQueue:
		return fmt.Appendf(b, "cpu=%d callsite=%s func=%s csd=%016x", uint32(h.n[0]), sym(h.s[1]), sym(h.s[2]), uint64(h.n[3]))
	case tpCSDFuncEntry, tpCSDFuncExit:
		return fmt.Appendf(b, "func=%s, csd=%016x", sym(h.s[0]), uint64(h.n[1]))
	case tpSchedSwitch:
		return fmt.Appendf(b, "prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s ==> next_comm=%s next_pid=%d next_prio=%d",
			commOf(h.s[0]), h.n[1], h.n[2], prevStateString(h.n[3]), commOf(h.s[4]), h.n[5], h.n[6])
	case tpSchedWakeup:
		return fmt.Appendf(b, "comm=%s pid=%d prio=%d target_cpu=%03d", commOf(h.s[0]), h.n[1], h.n[2], h.n[3])
	case tpSchedMigrate:
		return fmt.Appendf(b, "comm=%s pid=%d prio=%d orig_cpu=%d dest_cpu=%d", commOf(h.s[0]), h.n[1], h.n[2], h.n[3], h.n[4])
	case tpWakeIdle:
		return fmt.Appendf(b, "cpu=%d", h.n[0])
	case tpCpuhpEnter, tpCpuhpMultiEnter:
		return fmt.Appendf(b, "cpu: %04d target: %3d step: %3d (%s)", uint32(h.n[0]), h.n[1], h.n[2], sym(h.s[3]))
	case tpCpuhpExit:
		return fmt.Appendf(b, " cpu: %04d  state: %3d step: %3d ret: %d", uint32(h.n[0]), h.n[1], h.n[2], h.n[3])
	case tpSoftirqEntry, tpSoftirqExit, tpSoftirqRaise:
		return fmt.Appendf(b, "vec=%d [action=%s]", uint32(h.n[0]), softirqName(h.n[0]))
	case tpIRQHandlerEntry:
		return fmt.Appendf(b, "irq=%d name=%s", h.n[0], h.s[1])
	case tpIRQHandlerExit:
		ret := "unhandled"
		if h.n[1] != 0 {
			ret = "handled"
		}
		return fmt.Appendf(b, "irq=%d ret=%s", h.n[0], ret)
	}
	// irq_vectors
	return fmt.Appendf(b, "vector=%d", h.n[0])
}

// appendBitmap appends the CPUs as the kernel's %*pb of nbits bits: hex
// in 32-bit chunks, most significant first, separated by commas, the
// first chunk only as wide as its bits need.
func appendBitmap(b []byte, cpus []int, nbits int) []byte {
	chunks := (nbits + 31) / 32
	words := make([]uint32, chunks)
	for _, c := range cpus {
		if c >= 0 && c < nbits {
			words[c/32] |= 1 << (c % 32)
		}
	}
	for ci := chunks - 1; ci >= 0; ci-- {
		width := 8
		if ci == chunks-1 && nbits%32 != 0 {
			width = (nbits%32 + 3) / 4
		}
		b = fmt.Appendf(b, "%0*x", width, words[ci])
		if ci > 0 {
			b = append(b, ',')
		}
	}
	return b
}

// FtraceHeaderFor is the header of the trace file of the nop tracer with
// the default options (irq-info on, record-tgid off):
// print_func_help_header_irq() after "# tracer: nop", with entries
// events in the buffer (none lost) and cpus CPUs online.
func FtraceHeaderFor(entries uint64, cpus int) string { return ftraceHeader(entries, entries, cpus) }

// ftraceHeader is the header with inBuffer of written entries still in
// the buffer.
func ftraceHeader(inBuffer, written uint64, cpus int) string {
	return fmt.Sprintf(`# tracer: nop
#
# entries-in-buffer/entries-written: %d/%d   #P:%d
#
#                                _-----=> irqs-off/BH-disabled
#                               / _----=> need-resched
#                              | / _---=> hardirq/softirq
#                              || / _--=> preempt-depth
#                              ||| / _-=> migrate-disable
#                              |||| /     delay
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |
`, inBuffer, written, cpus)
}

// FtraceWriter is a Recorder that keeps the ftrace text of a run: the
// lines as they come, and the header, which needs their count, at the end
// (WriteTo). Past ftraceSpill bytes the lines go to a temporary file, so
// a long run's text costs no memory.
type FtraceWriter struct {
	f       *Ftrace
	k       *xcall.Kernel
	body    []byte
	spill   *os.File // the lines before body, once spilled
	err     error    // the first error of the spill file
	entries uint64
}

// ftraceSpill is how many bytes of lines an FtraceWriter keeps in memory
// (a variable for the tests).
var ftraceSpill = 4 << 20

// NewFtraceWriter returns a writer for the record of kernel k; attach it
// with k.M.AddRecorder.
func NewFtraceWriter(k *xcall.Kernel) *FtraceWriter {
	return &FtraceWriter{f: NewFtrace(k), k: k}
}

// Record is the emu.Recorder side.
func (w *FtraceWriter) Record(e *emu.Event) {
	var n int
	w.body, n = w.f.Append(w.body, e)
	w.entries += uint64(n)
	if len(w.body) >= ftraceSpill && w.err == nil {
		if w.spill == nil {
			w.spill, w.err = os.CreateTemp("", "xcallsh-ftrace-*")
			if w.err != nil {
				return // keep the lines in memory
			}
			os.Remove(w.spill.Name()) // gone with the last close
		}
		if _, w.err = w.spill.Write(w.body); w.err == nil {
			w.body = w.body[:0]
		}
	}
}

// Entries is the number of lines recorded.
func (w *FtraceWriter) Entries() uint64 { return w.entries }

// WriteTo writes the header and every line recorded so far; #P is the
// number of CPUs online now, as the kernel prints num_online_cpus() when
// the file is read.
func (w *FtraceWriter) WriteTo(out io.Writer) (int64, error) {
	n, err := io.WriteString(out, FtraceHeaderFor(w.entries, w.k.NumOnline()))
	total := int64(n)
	if err != nil {
		return total, err
	}
	if w.spill != nil {
		if w.err != nil {
			return total, w.err
		}
		m, err := io.Copy(out, io.NewSectionReader(w.spill, 0, 1<<62))
		total += m
		if err != nil {
			return total, err
		}
	}
	m, err := out.Write(w.body)
	return total + int64(m), err
}

// Close drops the lines kept in a temporary file.
func (w *FtraceWriter) Close() error {
	if w.spill != nil {
		w.spill.Close()
		w.spill = nil
	}
	w.body = nil
	return nil
}

// FtraceLine is one line of the ftrace text and the time of its event.
type FtraceLine struct {
	T    int64
	Text string
}

func (l FtraceLine) String() string { return l.Text }

// FtraceLog keeps the last lines of a run's ftrace text in memory, for
// the shell, as the kernel's ring buffer keeps the last events: past
// maxEvents lines it drops the oldest half.
type FtraceLog struct {
	f       *Ftrace
	k       *xcall.Kernel
	lines   []FtraceLine
	dropped uint64
	buf     []byte
}

// NewFtraceLog returns a log of the record of kernel k; attach it with
// k.M.AddRecorder.
func NewFtraceLog(k *xcall.Kernel) *FtraceLog { return &FtraceLog{f: NewFtrace(k), k: k} }

// Record is the emu.Recorder side.
func (l *FtraceLog) Record(e *emu.Event) {
	var n int
	l.buf, n = l.f.Append(l.buf[:0], e)
	for ; n > 0; n-- {
		i := bytes.IndexByte(l.buf, '\n')
		if len(l.lines) >= maxEvents {
			l.dropped += uint64(maxEvents / 2)
			l.lines = append(l.lines[:0], l.lines[maxEvents/2:]...)
		}
		l.lines = append(l.lines, FtraceLine{T: e.T, Text: string(l.buf[:i])})
		l.buf = l.buf[i+1:]
	}
}

// Lines are the lines kept, oldest first.
func (l *FtraceLog) Lines() []FtraceLine { return l.lines }

// WriteTo writes the lines kept as a trace file: the header counts them
// as entries in the buffer and counts the dropped ones as written too.
func (l *FtraceLog) WriteTo(w io.Writer) (int64, error) {
	kept := uint64(len(l.lines))
	n, err := io.WriteString(w, ftraceHeader(kept, kept+l.dropped, l.k.NumOnline()))
	total := int64(n)
	for i := 0; i < len(l.lines) && err == nil; i++ {
		n, err = io.WriteString(w, l.lines[i].Text+"\n")
		total += int64(n)
	}
	return total, err
}

// File is a trace file written from the record at the end of a run.
type File interface {
	emu.Recorder
	io.WriterTo
}

// IsTraceDat reports whether a --trace file name asks for trace-cmd's
// trace.dat (it ends in .dat).
func IsTraceDat(name string) bool { return strings.HasSuffix(strings.ToLower(name), ".dat") }

// NewFile returns the writer of the trace file name for kernel k: a
// TraceDat for a .dat file, else the ftrace text.
func NewFile(name string, k *xcall.Kernel) File {
	if IsTraceDat(name) {
		return NewTraceDat(k)
	}
	return NewFtraceWriter(k)
}

// Events are the lines of ftrace text the activity kept, oldest first,
// with their times (the oldest are dropped past a bound; WriteFtrace's
// header says how many).
func (a *Activity) Events() []FtraceLine {
	if a.ftrace == nil {
		return nil
	}
	return a.ftrace.Lines()
}

// IPIs is the number of IPIs recorded (the Perfetto trace's flow arrows).
func (a *Activity) IPIs() int { return len(a.flows) }

// WriteFtrace writes the ftrace text the activity kept.
func (a *Activity) WriteFtrace(w io.Writer) error {
	if a.ftrace == nil {
		_, err := io.WriteString(w, ftraceHeader(0, 0, 0))
		return err
	}
	_, err := a.ftrace.WriteTo(w)
	return err
}
