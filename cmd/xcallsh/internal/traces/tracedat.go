package traces

// trace-cmd's trace.dat, version 6 (trace-cmd's trace-cmd.dat.v6(5) man
// page; docs/traces.md#tracedat): the header page and header event
// descriptions of a 64-bit little-endian kernel, the format file of every
// tracepoint of tracedat_events.go, kallsyms for the symbols the trace
// names, printk_formats for the strings its const char * fields point to,
// saved_cmdlines, then per CPU the ring buffer's pages of 4096 bytes as
// kernel/trace/ring_buffer.c fills them: a page header (timestamp,
// commit) and events with a 32-bit header (type_len: 5 bits, time_delta:
// 27 bits), a time-extend event before an event more than 2^27 ns after
// the previous one, and each event's record: the common fields
// (common_type, common_flags, common_preempt_count, common_pid) and its
// own, as its format file says.

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/irqchip"
	"github.com/xcallsh/xcallsh/xcall"
)

const (
	datPageSize   = 4096
	datPageHeader = 16                          // u64 timestamp, local_t commit
	datPageData   = datPageSize - datPageHeader // data bytes per page

	rbTypePadding    = 29 // RINGBUF_TYPE_PADDING
	rbTypeTimeExtend = 30 // RINGBUF_TYPE_TIME_EXTEND
	rbMaxTypeLen     = 28 // RINGBUF_TYPE_DATA_TYPE_LEN_MAX
	rbDeltaBits      = 27 // TS_SHIFT

	// Where the symbols and strings of the trace are placed: the kernel
	// image's text, modules, and read-only data. Each symbol gets a slot
	// of its own, in the order the trace first names it.
	datTextBase   = 0xffffffff81000000
	datModuleBase = 0xffffffffc0000000
	datRodataBase = 0xffffffff82000000
	datSymSlot    = 0x10000
	datStrSlot    = 0x100
)

// datHeaderPage is events/header_page of a 64-bit kernel.
const datHeaderPage = "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n" +
	"\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n" +
	"\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n" +
	"\tfield: char data;\toffset:16;\tsize:4080;\tsigned:1;\n"

// datHeaderEvent is events/header_event.
const datHeaderEvent = "# compressed entry header\n" +
	"\ttype_len    :    5 bits\n" +
	"\ttime_delta  :   27 bits\n" +
	"\tarray       :   32 bits\n" +
	"\n" +
	"\tpadding     : type == 29\n" +
	"\ttime_extend : type == 30\n" +
	"\ttime_stamp : type == 31\n" +
	"\tdata max type_len  == 28\n"

// TraceDat is a Recorder that keeps a run's record as trace-cmd's
// trace.dat: it encodes every tracepoint hit into its CPU's ring-buffer
// pages as it comes, and writes the file at the end (WriteTo).
type TraceDat struct {
	arch tpArch
	nr   int
	hits []tpHit
	cpus []datCPU
	rec  []byte // one record being encoded
	// softirq: a softirq event was recorded; only then do the formats
	// include the irq system.
	softirq bool
	// devirq: a device interrupt's irq_handler_entry or _exit was
	// recorded; only then are they among the irq system's formats.
	devirq bool

	syms    map[string]uint64 // symbol name (and module) -> address; looked up, never iterated
	symList []datSym          // in address order
	nText   int
	nMod    int
	strs    map[string]uint64 // const char * strings -> address; looked up only
	strList []string
	comms   map[int]string // pid -> comm; looked up, written sorted by pid
	pids    []int
	entries uint64
}

type datSym struct {
	addr      uint64
	name, mod string
	size      int
}

// datCPU is one CPU's ring buffer: whole pages, the last one being filled.
type datCPU struct {
	data  []byte
	page  int   // offset of the page being filled in data (-1: none)
	fill  int   // bytes of data used in that page
	lastT int64 // time of the last event
}

// NewTraceDat returns a trace.dat writer for the record of kernel k;
// attach it with k.M.AddRecorder.
func NewTraceDat(k *xcall.Kernel) *TraceDat {
	return newTraceDat(k.Spec.IsX86(), k.Chip, k.NrCPUIDs())
}

func newTraceDat(x86 bool, chip irqchip.Chip, nr int) *TraceDat {
	d := &TraceDat{arch: newTPArch(x86, chip, nr), nr: nr, cpus: make([]datCPU, nr),
		syms: map[string]uint64{}, strs: map[string]uint64{}, comms: map[int]string{}}
	for i := range d.cpus {
		d.cpus[i].page = -1
	}
	return d
}

// Entries is the number of events recorded.
func (d *TraceDat) Entries() uint64 { return d.entries }

// Record is the emu.Recorder side.
func (d *TraceDat) Record(e *emu.Event) {
	if e.CPU < 0 || e.CPU >= d.nr {
		return // the operator: no CPU's buffer
	}
	d.hits = d.arch.hitsOf(d.hits[:0], e)
	for i := range d.hits {
		if tp := d.hits[i].tp; tp.system == "irq" {
			d.softirq = true
			d.devirq = d.devirq || tp == tpIRQHandlerEntry || tp == tpIRQHandlerExit
		}
		d.rec = d.encode(d.rec[:0], e, &d.hits[i])
		d.write(e.CPU, e.T, d.rec)
		d.entries++
	}
}

// encode appends h's record: the common fields, then its own at their
// offsets, then the dynamic data (__data_loc) after them.
func (d *TraceDat) encode(b []byte, e *emu.Event, h *tpHit) []byte {
	tp := h.tp
	comm, pid := contextOf(e)
	d.comm(pid, comm)
	le := binary.LittleEndian
	b = le.AppendUint16(b, uint16(tp.id))
	b = append(b, commonFlags(e.Flags), preemptCount(e.Flags))
	b = le.AppendUint32(b, uint32(int32(pid)))
	var dyn []byte
	fixed := tp.size()
	for i, f := range tp.fields {
		off := tp.offset(i)
		for len(b) < off {
			b = append(b, 0)
		}
		switch f.kind {
		case kU32, kS32:
			b = le.AppendUint32(b, uint32(h.n[i]))
		case kLong, kPtr:
			b = le.AppendUint64(b, uint64(h.n[i]))
		case kSym:
			b = le.AppendUint64(b, d.symAddr(h.s[i]))
		case kStr:
			b = le.AppendUint64(b, d.strAddr(h.s[i]))
		case kComm:
			var c [16]byte
			copy(c[:15], h.s[i])
			b = append(b, c[:]...)
			if tp == tpSchedSwitch {
				if i == 0 {
					d.comm(int(h.n[1]), h.s[i])
				} else {
					d.comm(int(h.n[5]), h.s[i])
				}
			}
		case kMask:
			// the bitmap: nr_cpumask_bits in whole unsigned longs
			words := make([]uint64, maskBits(d.nr)/64)
			for _, c := range h.mask {
				if c >= 0 && c < len(words)*64 {
					words[c/64] |= 1 << (c % 64)
				}
			}
			loc := fixed + len(dyn)
			for _, w := range words {
				dyn = le.AppendUint64(dyn, w)
			}
			b = le.AppendUint32(b, uint32(len(words)*8)<<16|uint32(loc))
		case kDynStr:
			// the string and its NUL, after the fixed fields
			loc := fixed + len(dyn)
			dyn = append(append(dyn, h.s[i]...), 0)
			b = le.AppendUint32(b, uint32(len(h.s[i])+1)<<16|uint32(loc))
		}
	}
	for len(b) < fixed {
		b = append(b, 0)
	}
	return append(b, dyn...)
}

// commonFlags is common_flags from the five latency flags (the
// TRACE_FLAG_* bits of kernel/trace/trace.h).
func commonFlags(f [5]byte) byte {
	const (
		irqsOff        = 0x01
		needResched    = 0x04
		hardirq        = 0x08
		softirq        = 0x10
		preemptResched = 0x20
		nmi            = 0x40
		bhOff          = 0x80
	)
	var v byte
	switch f[0] {
	case 'd':
		v |= irqsOff
	case 'D':
		v |= irqsOff | bhOff
	case 'b':
		v |= bhOff
	}
	switch f[1] {
	case 'N':
		v |= needResched | preemptResched
	case 'n':
		v |= needResched
	case 'p':
		v |= preemptResched
	}
	switch f[2] {
	case 'Z':
		v |= nmi | hardirq
	case 'z':
		v |= nmi
	case 'H':
		v |= hardirq | softirq
	case 'h':
		v |= hardirq
	case 's':
		v |= softirq
	}
	return v
}

// preemptCount is common_preempt_count: the preempt depth in the low
// nibble, the migrate-disable depth in the high one.
func preemptCount(f [5]byte) byte {
	hex := func(c byte) byte {
		if v := strings.IndexByte("0123456789abcdef", c); v >= 0 {
			return byte(v)
		}
		return 0
	}
	return hex(f[3]) | hex(f[4])<<4
}

// write appends a record to cpu's ring buffer at time t.
func (d *TraceDat) write(cpu int, t int64, rec []byte) {
	c := &d.cpus[cpu]
	dataLen := (len(rec) + 3) &^ 3
	need := 4 + dataLen
	if dataLen > rbMaxTypeLen*4 {
		need += 4
	}
	if t < c.lastT {
		t = c.lastT // the record's clock never goes back; a ring buffer's cannot
	}
	delta := t - c.lastT
	if c.page >= 0 && delta >= 1<<rbDeltaBits {
		need += 8
	}
	if c.page < 0 || c.fill+need > datPageData {
		c.page = len(c.data)
		c.data = append(c.data, make([]byte, datPageSize)...)
		binary.LittleEndian.PutUint64(c.data[c.page:], uint64(t))
		c.fill, delta = 0, 0
	}
	le := binary.LittleEndian
	p := c.data[c.page+datPageHeader:]
	if delta >= 1<<rbDeltaBits {
		le.PutUint32(p[c.fill:], rbTypeTimeExtend|uint32(delta&(1<<rbDeltaBits-1))<<5)
		le.PutUint32(p[c.fill+4:], uint32(delta>>rbDeltaBits))
		c.fill += 8
		delta = 0
	}
	if dataLen <= rbMaxTypeLen*4 {
		le.PutUint32(p[c.fill:], uint32(dataLen/4)|uint32(delta)<<5)
		c.fill += 4
	} else {
		le.PutUint32(p[c.fill:], uint32(delta)<<5)
		le.PutUint32(p[c.fill+4:], uint32(dataLen+4))
		c.fill += 8
	}
	copy(p[c.fill:], rec)
	c.fill += dataLen
	le.PutUint64(c.data[c.page+8:], uint64(c.fill))
	c.lastT = t
}

// symAddr is the address of a symbol as %pS or %ps printed it
// ("name+0x6e/0xa0", "name [module]"), placing the symbol on first use;
// "" is NULL and "0x..." a raw address.
func (d *TraceDat) symAddr(s string) uint64 {
	if s == "" {
		return 0
	}
	if strings.HasPrefix(s, "0x") {
		v, _ := strconv.ParseUint(s[2:], 16, 64)
		return v
	}
	name, mod := s, ""
	if i := strings.Index(name, " ["); i >= 0 && strings.HasSuffix(name, "]") {
		name, mod = name[:i], name[i+2:len(name)-1]
	}
	var off, size uint64
	if i := strings.IndexByte(name, '+'); i >= 0 {
		o, sz, _ := strings.Cut(name[i+1:], "/")
		off, _ = strconv.ParseUint(strings.TrimPrefix(o, "0x"), 16, 64)
		size, _ = strconv.ParseUint(strings.TrimPrefix(sz, "0x"), 16, 64)
		name = name[:i]
	}
	key := name + "\x00" + mod
	base, ok := d.syms[key]
	if !ok {
		if mod == "" {
			base = datTextBase + uint64(d.nText)*datSymSlot
			d.nText++
		} else {
			base = datModuleBase + uint64(d.nMod)*datSymSlot
			d.nMod++
		}
		d.syms[key] = base
		d.symList = append(d.symList, datSym{addr: base, name: name, mod: mod, size: int(size)})
	}
	return base + off%datSymSlot
}

// strAddr is the address of a string of the kernel image (a const char *
// field), placing it on first use.
func (d *TraceDat) strAddr(s string) uint64 {
	a, ok := d.strs[s]
	if !ok {
		a = datRodataBase + uint64(len(d.strList))*datStrSlot
		d.strs[s] = a
		d.strList = append(d.strList, s)
	}
	return a
}

// comm notes a task's name for saved_cmdlines (pid 0 is "<idle>" to
// every reader).
func (d *TraceDat) comm(pid int, comm string) {
	if pid <= 0 {
		return
	}
	if _, ok := d.comms[pid]; !ok {
		d.pids = append(d.pids, pid)
	}
	d.comms[pid] = commOf(comm)
}

// size is the size of the fixed part of tp's record.
func (tp *tracepoint) size() int {
	end := 8
	for i, f := range tp.fields {
		end = tp.offset(i) + f.size()
	}
	return end
}

// offset is the offset of field i: after the one before it, aligned to
// its own size (at most 8), as the compiler lays out the entry struct.
func (tp *tracepoint) offset(i int) int {
	off := 8
	for j, f := range tp.fields {
		al := f.size()
		if f.kind == kComm {
			al = 1
		}
		if al > 8 {
			al = 8
		}
		off = (off + al - 1) / al * al
		if j == i {
			return off
		}
		off += f.size()
	}
	return off
}

// formatFile is tp's events/SYSTEM/NAME/format.
func (tp *tracepoint) formatFile() string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\nID: %d\nformat:\n", tp.name, tp.id)
	b.WriteString("\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n")
	b.WriteString("\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n")
	b.WriteString("\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n")
	b.WriteString("\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n")
	for i, f := range tp.fields {
		signed := 0
		if f.signed() {
			signed = 1
		}
		fmt.Fprintf(&b, "\tfield:%s %s;\toffset:%d;\tsize:%d;\tsigned:%d;\n", f.typ, f.name, tp.offset(i), f.size(), signed)
	}
	fmt.Fprintf(&b, "\nprint fmt: %s\n", tp.print)
	return b.String()
}

// WriteTo writes the trace.dat file.
func (d *TraceDat) WriteTo(w io.Writer) (int64, error) {
	le := binary.LittleEndian
	var h []byte
	h = append(h, 0x17, 0x08, 0x44)
	h = append(h, "tracing6\x00"...)
	h = append(h, 0, 8) // little endian, 8-byte longs
	h = le.AppendUint32(h, datPageSize)

	h = append(h, "header_page\x00"...)
	h = le.AppendUint64(h, uint64(len(datHeaderPage)))
	h = append(h, datHeaderPage...)
	h = append(h, "header_event\x00"...)
	h = le.AppendUint64(h, uint64(len(datHeaderEvent)))
	h = append(h, datHeaderEvent...)

	h = le.AppendUint32(h, 0) // no ftrace (tracer) event formats

	// The event systems, each with the format of every tracepoint it has
	// in allTracepoints (all of them, used or not: a kernel exports them
	// all, and trace-cmd records the formats of the systems enabled).
	var systems []string
	for _, tp := range allTracepoints {
		if !slices.Contains(systems, tp.system) {
			systems = append(systems, tp.system)
		}
	}
	if !d.arch.x86 {
		systems = slices.DeleteFunc(systems, func(s string) bool { return s == "irq_vectors" })
	}
	if !d.softirq {
		systems = slices.DeleteFunc(systems, func(s string) bool { return s == "irq" })
	}
	h = le.AppendUint32(h, uint32(len(systems)))
	for _, sys := range systems {
		h = append(h, sys...)
		h = append(h, 0)
		var tps []*tracepoint
		for _, tp := range allTracepoints {
			if tp.system == sys && (d.devirq || tp != tpIRQHandlerEntry && tp != tpIRQHandlerExit) {
				tps = append(tps, tp)
			}
		}
		h = le.AppendUint32(h, uint32(len(tps)))
		for _, tp := range tps {
			f := tp.formatFile()
			h = le.AppendUint64(h, uint64(len(f)))
			h = append(h, f...)
		}
	}

	var ks strings.Builder
	for _, s := range d.symList {
		if s.mod == "" {
			fmt.Fprintf(&ks, "%016x T %s\n", s.addr, s.name)
		} else {
			fmt.Fprintf(&ks, "%016x t %s\t[%s]\n", s.addr, s.name, s.mod)
		}
	}
	h = le.AppendUint32(h, uint32(ks.Len()))
	h = append(h, ks.String()...)

	var pf strings.Builder
	for i, s := range d.strList {
		fmt.Fprintf(&pf, "0x%x : \"%s\"\n", datRodataBase+uint64(i)*datStrSlot, s)
	}
	h = le.AppendUint32(h, uint32(pf.Len()))
	h = append(h, pf.String()...)

	var cl strings.Builder
	pids := slices.Clone(d.pids)
	slices.Sort(pids)
	for _, pid := range pids {
		fmt.Fprintf(&cl, "%d %s\n", pid, d.comms[pid])
	}
	h = le.AppendUint64(h, uint64(cl.Len()))
	h = append(h, cl.String()...)

	h = le.AppendUint32(h, uint32(d.nr))
	h = append(h, "options  \x00"...)
	h = le.AppendUint16(h, 0) // no options
	h = append(h, "flyrecord\x00"...)

	// CPU data: page aligned, one CPU after the other.
	off := uint64(len(h) + 16*d.nr)
	off = (off + datPageSize - 1) / datPageSize * datPageSize
	for i := range d.cpus {
		size := uint64(len(d.cpus[i].data))
		h = le.AppendUint64(h, off)
		h = le.AppendUint64(h, size)
		off += size
	}
	for len(h)%datPageSize != 0 {
		h = append(h, 0)
	}
	n, err := w.Write(h)
	total := int64(n)
	if err != nil {
		return total, err
	}
	for i := range d.cpus {
		n, err := w.Write(d.cpus[i].data)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
