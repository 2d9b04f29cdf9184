package machines

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// MaxFileSize is the largest machine file Parse accepts, in bytes. An
// 8192-CPU machine that lists every APIC ID needs well under 100 KiB.
const MaxFileSize = 1 << 20

// Limits on numbers, so that sums of costs stay far from int64 overflow.
const (
	MaxCost      = 1_000_000_000_000 // largest [timing] value: 1000 s in ns
	MaxTimeoutMS = math.MaxInt32     // largest [kernel] timeout in ms (the kernel's are ints)
)

// Parse decodes a machine description from TOML and validates it. file names
// the source in error messages. Every error is an *Error: "FILE: line N: key
// K: what is wrong".
//
// The format, with every key; only name, arch, cpus and irqchip.kind are
// required:
//
//	name = "arm64-8"          # required
//	description = "..."       # one line, shown by "xcallsh machines"
//	arch = "arm64"            # "x86_64" or "arm64"
//	cpus = 8                  # nr_cpu_ids, 1..8192
//	online = "0-7"            # CPUs online at boot (default all); includes CPU 0
//
//	[irqchip]
//	kind = "gicv3"            # x86_64: "xapic" or "x2apic"; arm64: "gicv3"
//	mode = "physical"         # default; xapic: "flat" | "physical";
//	                          # x2apic: "physical" | "cluster"; gicv3: "physical" only
//	cluster_size = 4          # gicv3 only: CPUs per Aff1 cluster, 1..256, default 16
//	range_selector = true     # gicv3 only: SGIs reach Aff0 16..255 (RSS); default true
//	apic_ids = [0, 1, 2, 3]   # x86 only: APIC ID of each CPU, distinct; default the CPU number
//
//	[[node]]                  # NUMA nodes, numbered in file order; default one node
//	cpus = "0-3"              # with every CPU. Nodes are disjoint, non-empty,
//	[[node]]                  # and together hold every CPU.
//	cpus = "4-7"
//
//	[timing]                  # virtual-time costs in ns, 0..MaxCost; defaults DefaultTiming
//	ipi_latency = 1000
//	reg_write = 40
//	irq_entry = 300
//	irq_exit = 200
//	csd_setup = 20
//	callback = 50
//	wake_latency = 100
//	jitter = 200
//	hotplug_step = 10000
//	nmi_backtrace = 0         # a CPU printing its NMI backtrace
//
//	[kernel]                  # boot parameters
//	csdlock_debug = 0         # 0 or 1, or false or true
//	csd_lock_timeout = 5000   # smp.csd_lock_timeout, ms; 0 turns reports off
//	panic_on_ipistall = 0     # smp.panic_on_ipistall, ms; 0 = off
//	idle = "halt"             # "halt" (HLT / WFI) or "poll"
//
//	[memory]
//	model = "sc"              # "sc" (default) or "native": the kernel's stores
//	                          # go through per-CPU store buffers (docs/memory.md)
//
// CPU lists use the kernel's list format (ParseCPUList). Keys are case
// sensitive; an unknown key is an error. xAPIC IDs are 8 bits and 0xff is the
// broadcast ID, so an xAPIC machine has at most 255 CPUs, and flat logical
// mode (one bit per CPU in an 8-bit logical ID) at most 8. x2APIC IDs are 32
// bits and 0xffffffff is the broadcast ID; in cluster mode the logical ID
// (id>>4)<<16 | 1<<(id&15) keeps only bits 19:0 of the APIC ID, so IDs must
// be below 1<<20 there. GICv3 takes no mode; its Spec.IRQChip.Mode is "".
//
// Errors are reported one at a time, the same one for the same text: syntax
// first, then unknown keys in file order, then each key's type and form in
// the order above, then the rules of Spec.Validate. An error names the key
// with its table ("irqchip.kind") and the elements of [[node]] by index
// ("node[1].cpus", node 1). It carries the line of the key or, for a missing
// key, of its table if that is present.
func Parse(file string, data []byte) (*Spec, error) {
	d := &decoder{file: file, text: string(data)}
	spec, err := d.decode()
	if err != nil {
		return nil, d.place(err)
	}
	return spec, nil
}

// The raw form of a machine file. Leaves are `any`, so that decoding never
// fails on a type mismatch: the TOML decoder walks a table's keys in map
// order and stops at the first error, so the error reported would change from
// run to run. Types are checked afterwards, key by key, in a fixed order.
// Tables are Primitives, decoded once their shape is checked.
type (
	rawFile struct {
		Name        any            `toml:"name"`
		Description any            `toml:"description"`
		Arch        any            `toml:"arch"`
		CPUs        any            `toml:"cpus"`
		Online      any            `toml:"online"`
		IRQChip     toml.Primitive `toml:"irqchip"`
		Node        toml.Primitive `toml:"node"`
		Timing      toml.Primitive `toml:"timing"`
		Kernel      toml.Primitive `toml:"kernel"`
		Memory      toml.Primitive `toml:"memory"`
	}
	rawIRQChip struct {
		Kind        any `toml:"kind"`
		Mode        any `toml:"mode"`
		ClusterSize any `toml:"cluster_size"`
		APICIDs     any `toml:"apic_ids"`
		RangeSel    any `toml:"range_selector"`
	}
	rawNode struct {
		CPUs any `toml:"cpus"`
	}
	rawTiming struct {
		IPILatency  any `toml:"ipi_latency"`
		RegWrite    any `toml:"reg_write"`
		IRQEntry    any `toml:"irq_entry"`
		IRQExit     any `toml:"irq_exit"`
		CSDSetup    any `toml:"csd_setup"`
		Callback    any `toml:"callback"`
		WakeLatency any `toml:"wake_latency"`
		Jitter      any `toml:"jitter"`
		HotplugStep any `toml:"hotplug_step"`
		NMIBack     any `toml:"nmi_backtrace"`
	}
	rawKernel struct {
		CSDLockDebug    any `toml:"csdlock_debug"`
		CSDLockTimeout  any `toml:"csd_lock_timeout"`
		PanicOnIPIStall any `toml:"panic_on_ipistall"`
		Idle            any `toml:"idle"`
	}
	rawMemory struct {
		Model any `toml:"model"`
	}
)

// schema maps every key a machine file may hold to whether it is a table
// (true) or a value (false). It must agree with the toml tags above; a test
// checks that it does.
var schema = map[string]bool{
	"name": false, "description": false, "arch": false, "cpus": false, "online": false,
	"irqchip": true, "irqchip.kind": false, "irqchip.mode": false,
	"irqchip.cluster_size": false, "irqchip.apic_ids": false, "irqchip.range_selector": false,
	"node": true, "node.cpus": false,
	"timing": true, "timing.ipi_latency": false, "timing.reg_write": false,
	"timing.irq_entry": false, "timing.irq_exit": false, "timing.csd_setup": false,
	"timing.callback": false, "timing.wake_latency": false, "timing.jitter": false, "timing.hotplug_step": false,
	"timing.nmi_backtrace": false,
	"kernel":               true, "kernel.csdlock_debug": false, "kernel.csd_lock_timeout": false,
	"kernel.panic_on_ipistall": false, "kernel.idle": false,
	"memory": true, "memory.model": false,
}

// decoder turns one file into a Spec.
type decoder struct {
	file string
	text string
	md   toml.MetaData
	loc  *locator // built on the first error
}

// decode does the work of Parse; its errors are *Error without file or line.
func (d *decoder) decode() (*Spec, error) {
	if len(d.text) > MaxFileSize {
		return nil, &Error{Msg: fmt.Sprintf("file is too large (%d bytes, at most %d)", len(d.text), MaxFileSize)}
	}
	if err := checkNesting(d.text); err != nil {
		return nil, err
	}
	var raw rawFile
	if err := d.decodeTOML(&raw); err != nil {
		return nil, err
	}
	if err := d.checkKeys(); err != nil {
		return nil, err
	}
	var ic rawIRQChip
	var nodes []rawNode
	var tm rawTiming
	var kn rawKernel
	var mem rawMemory
	for _, t := range []struct {
		key   string
		prim  toml.Primitive
		dst   any
		array bool
	}{
		{"irqchip", raw.IRQChip, &ic, false},
		{"node", raw.Node, &nodes, true},
		{"timing", raw.Timing, &tm, false},
		{"kernel", raw.Kernel, &kn, false},
		{"memory", raw.Memory, &mem, false},
	} {
		if err := d.decodeTable(t.key, t.prim, t.dst, t.array); err != nil {
			return nil, err
		}
	}
	if err := d.checkUndecoded(); err != nil {
		return nil, err
	}

	s := &Spec{Source: d.text}
	var err error
	if s.Name, err = d.str("name", raw.Name, true); err != nil {
		return nil, err
	}
	if s.Description, err = d.str("description", raw.Description, false); err != nil {
		return nil, err
	}
	arch, err := d.str("arch", raw.Arch, true)
	if err != nil {
		return nil, err
	}
	if err := s.Arch.UnmarshalText([]byte(arch)); err != nil {
		return nil, keyError("arch", err)
	}
	cpus, err := d.integer("cpus", raw.CPUs, true, 1, MaxCPUs)
	if err != nil {
		return nil, err
	}
	s.CPUs = int(cpus)
	if s.Online, err = d.cpuList("online", raw.Online, s.CPUs); err != nil {
		return nil, err
	}
	if err := d.irqchip(s, &ic); err != nil {
		return nil, err
	}
	if err := d.nodes(s, nodes); err != nil {
		return nil, err
	}
	if err := d.timing(s, &tm); err != nil {
		return nil, err
	}
	if err := d.kernel(s, &kn); err != nil {
		return nil, err
	}
	if mem.Model != nil {
		if s.Memory, err = d.str("memory.model", mem.Model, false); err != nil {
			return nil, err
		}
		if s.Memory == MemorySC {
			s.Memory = ""
		}
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// decodeTOML parses the text into raw. Only syntax errors can occur.
func (d *decoder) decodeTOML(raw *rawFile) (err error) {
	defer func() {
		// The TOML decoder should never panic; if it does, the input is
		// still only a bad file, not a reason to crash.
		if r := recover(); r != nil {
			err = &Error{Msg: fmt.Sprintf("cannot decode TOML: %v", r)}
		}
	}()
	d.md, err = toml.Decode(d.text, raw)
	if err == nil {
		return nil
	}
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &Error{
			Line: pe.Position.Line,
			Key:  pe.LastKey,
			Msg:  "syntax error: " + strings.TrimSuffix(pe.Message, "."),
			Err:  err,
		}
	}
	return &Error{Msg: err.Error(), Err: err}
}

// checkKeys reports the first key, in file order, that the schema does not
// know. Keys are matched case-sensitively (the TOML decoder would match
// struct fields case-insensitively). Keys inside a value, as in
// name = {a = 1}, are left to the type check of that value.
func (d *decoder) checkKeys() error {
	for _, k := range d.md.Keys() {
		if d.underValue(k) {
			continue
		}
		if _, ok := schema[k.String()]; !ok {
			return d.unknownKey(k)
		}
	}
	return nil
}

// checkUndecoded reports a key the decoder did not store anywhere. After
// checkKeys this finds nothing unless the schema and the raw types disagree.
func (d *decoder) checkUndecoded() error {
	for _, k := range d.md.Undecoded() {
		if !d.underValue(k) {
			return d.unknownKey(k)
		}
	}
	return nil
}

// underValue reports whether a proper prefix of k is a value key of the
// schema (then k is part of that value).
func (d *decoder) underValue(k toml.Key) bool {
	for i := 1; i < len(k); i++ {
		if table, ok := schema[k[:i].String()]; ok && !table {
			return true
		}
	}
	return false
}

// unknownKey reports k as unknown, naming array elements by index.
func (d *decoder) unknownKey(k toml.Key) error {
	key := k.String()
	if kp, ok := d.locator().find(key); ok {
		key = kp.key
	}
	return &Error{Key: key, Msg: "unknown key"}
}

// decodeTable checks that the value at key is a table (or, with array, an
// array of tables) and decodes it into dst. An absent table decodes to
// nothing.
func (d *decoder) decodeTable(key string, prim toml.Primitive, dst any, array bool) error {
	if !d.md.IsDefined(key) {
		return nil
	}
	var v any
	if err := d.md.PrimitiveDecode(prim, &v); err != nil {
		return &Error{Key: key, Msg: err.Error(), Err: err}
	}
	ok := false
	want := "a table"
	if array {
		want = "an array of tables"
		switch v := v.(type) {
		case []map[string]any:
			ok = true
		case []any:
			ok = true
			for _, e := range v {
				if _, isMap := e.(map[string]any); !isMap {
					ok = false
				}
			}
		}
	} else {
		_, ok = v.(map[string]any)
	}
	if !ok {
		return wrongType(key, want, v)
	}
	if err := d.md.PrimitiveDecode(prim, dst); err != nil {
		return &Error{Key: key, Msg: err.Error(), Err: err}
	}
	return nil
}

// str returns the string at key; "" if it is absent and not required.
func (d *decoder) str(key string, v any, required bool) (string, error) {
	if v == nil {
		if required {
			return "", missing(key)
		}
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", wrongType(key, "a string", v)
	}
	return s, nil
}

// integer returns the integer at key, which must lie in lo..hi; 0 if it is
// absent and not required.
func (d *decoder) integer(key string, v any, required bool, lo, hi int64) (int64, error) {
	if v == nil {
		if required {
			return 0, missing(key)
		}
		return 0, nil
	}
	n, ok := v.(int64)
	if !ok {
		return 0, wrongType(key, "an integer", v)
	}
	if err := checkRange(key, n, lo, hi); err != nil {
		return 0, err
	}
	return n, nil
}

// cpuList returns the CPU list at key; all of 0..cpus-1 if it is absent.
func (d *decoder) cpuList(key string, v any, cpus int) ([]int, error) {
	if v == nil {
		return allCPUs(cpus), nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, wrongType(key, `a CPU list string ("0-3,6")`, v)
	}
	list, err := ParseCPUList(s)
	if err != nil {
		return nil, keyError(key, err)
	}
	return list, nil
}

// irqchip decodes [irqchip], filling the defaults that depend on the kind.
func (d *decoder) irqchip(s *Spec, ic *rawIRQChip) error {
	var err error
	if s.IRQChip.Kind, err = d.str("irqchip.kind", ic.Kind, true); err != nil {
		return err
	}
	gic := s.IRQChip.Kind == KindGICv3
	if s.IRQChip.Mode, err = d.str("irqchip.mode", ic.Mode, false); err != nil {
		return err
	}
	switch {
	case ic.Mode == nil && !gic:
		s.IRQChip.Mode = ModePhysical
	case gic && s.IRQChip.Mode == ModePhysical:
		s.IRQChip.Mode = ""
	}

	if ic.ClusterSize != nil {
		if !gic {
			return &Error{Key: "irqchip.cluster_size", Msg: fmt.Sprintf("cluster_size applies to gicv3 only, not %s", s.IRQChip.Kind)}
		}
		size, err := d.integer("irqchip.cluster_size", ic.ClusterSize, false, 1, MaxClusterSize)
		if err != nil {
			return err
		}
		s.IRQChip.ClusterSize = int(size)
	} else if gic {
		s.IRQChip.ClusterSize = DefaultClusterSize
	}
	if ic.RangeSel != nil {
		rs, ok := ic.RangeSel.(bool)
		if !ok {
			return wrongType("irqchip.range_selector", "a boolean", ic.RangeSel)
		}
		if !gic {
			return &Error{Key: "irqchip.range_selector", Msg: fmt.Sprintf("range_selector applies to gicv3 only, not %s", s.IRQChip.Kind)}
		}
		s.IRQChip.NoRangeSelector = !rs
	}

	if ic.APICIDs == nil {
		if s.IsX86() {
			s.IRQChip.APICIDs = allCPUs(s.CPUs)
		}
		return nil
	}
	if !s.IsX86() {
		return &Error{Key: "irqchip.apic_ids", Msg: "apic_ids applies to x86_64 only"}
	}
	list, ok := ic.APICIDs.([]any)
	if !ok {
		return wrongType("irqchip.apic_ids", "an array of integers", ic.APICIDs)
	}
	ids := make([]int, len(list))
	for i, e := range list {
		id, ok := e.(int64)
		if !ok {
			return &Error{Key: "irqchip.apic_ids", Msg: fmt.Sprintf("wrong type: want integers, got %s (the APIC ID of CPU %d)", describe(e), i)}
		}
		if id < 0 || id > math.MaxUint32 || int64(int(id)) != id {
			return &Error{Key: "irqchip.apic_ids", Msg: fmt.Sprintf("APIC ID %d of CPU %d is out of range 0-%d", id, i, uint32(math.MaxUint32))}
		}
		ids[i] = int(id)
	}
	s.IRQChip.APICIDs = ids
	return nil
}

// nodes decodes the [[node]] tables; without any, one node holds every CPU.
func (d *decoder) nodes(s *Spec, nodes []rawNode) error {
	if len(nodes) == 0 {
		if d.md.IsDefined("node") { // node = []
			return &Error{Key: "node", Msg: "an empty array has no nodes; leave node out for one node with every CPU"}
		}
		s.Nodes = [][]int{allCPUs(s.CPUs)}
	} else {
		s.Nodes = make([][]int, len(nodes))
		for i, n := range nodes {
			key := fmt.Sprintf("node[%d].cpus", i)
			if n.CPUs == nil {
				return missing(key)
			}
			cpus, err := d.cpuList(key, n.CPUs, s.CPUs)
			if err != nil {
				return err
			}
			s.Nodes[i] = cpus
		}
	}
	s.CPUNode = cpuNodes(s.CPUs, s.Nodes)
	return nil
}

// cpuNodes inverts nodes: the node of each of cpus CPUs, -1 for none. CPUs
// out of range are ignored (Validate reports them).
func cpuNodes(cpus int, nodes [][]int) []int {
	cn := make([]int, cpus)
	for i := range cn {
		cn[i] = -1
	}
	for n, list := range nodes {
		for _, c := range list {
			if c >= 0 && c < cpus && cn[c] < 0 {
				cn[c] = n
			}
		}
	}
	return cn
}

// timing decodes [timing] over DefaultTiming.
func (d *decoder) timing(s *Spec, t *rawTiming) error {
	s.Timing = DefaultTiming
	for _, f := range []struct {
		key string
		v   any
		dst *int64
	}{
		{"timing.ipi_latency", t.IPILatency, &s.Timing.IPILatency},
		{"timing.reg_write", t.RegWrite, &s.Timing.RegWrite},
		{"timing.irq_entry", t.IRQEntry, &s.Timing.IRQEntry},
		{"timing.irq_exit", t.IRQExit, &s.Timing.IRQExit},
		{"timing.csd_setup", t.CSDSetup, &s.Timing.CSDSetup},
		{"timing.callback", t.Callback, &s.Timing.Callback},
		{"timing.wake_latency", t.WakeLatency, &s.Timing.WakeLatency},
		{"timing.jitter", t.Jitter, &s.Timing.Jitter},
		{"timing.hotplug_step", t.HotplugStep, &s.Timing.HotplugStep},
		{"timing.nmi_backtrace", t.NMIBack, &s.Timing.NMIBacktrace},
	} {
		if f.v == nil {
			continue
		}
		n, err := d.integer(f.key, f.v, false, 0, MaxCost)
		if err != nil {
			return err
		}
		*f.dst = n
	}
	return nil
}

// kernel decodes [kernel] over DefaultKernel.
func (d *decoder) kernel(s *Spec, k *rawKernel) error {
	s.Kernel = DefaultKernel
	switch v := k.CSDLockDebug.(type) {
	case nil:
	case bool:
		s.Kernel.CSDLockDebug = v
	case int64:
		if v != 0 && v != 1 {
			return &Error{Key: "kernel.csdlock_debug", Msg: fmt.Sprintf("%d is neither 0 nor 1", v)}
		}
		s.Kernel.CSDLockDebug = v == 1
	default:
		return wrongType("kernel.csdlock_debug", "0, 1, false or true", v)
	}
	var err error
	if k.CSDLockTimeout != nil {
		if s.Kernel.CSDLockTimeoutMS, err = d.integer("kernel.csd_lock_timeout", k.CSDLockTimeout, false, 0, MaxTimeoutMS); err != nil {
			return err
		}
	}
	if k.PanicOnIPIStall != nil {
		if s.Kernel.PanicOnIPIStall, err = d.integer("kernel.panic_on_ipistall", k.PanicOnIPIStall, false, 0, MaxTimeoutMS); err != nil {
			return err
		}
	}
	if k.Idle != nil {
		if s.Kernel.Idle, err = d.str("kernel.idle", k.Idle, false); err != nil {
			return err
		}
	}
	return nil
}

// place completes err, an *Error from decode or Validate, with the file, the
// line of its key and that line's text.
func (d *decoder) place(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Msg: err.Error(), Err: err}
	}
	e.File = d.file
	if e.Line == 0 && e.Key != "" {
		e.Line = d.locator().line(e.Key)
	}
	if e.Line > 0 {
		e.Excerpt = excerpt(d.text, e.Line)
	}
	return e
}

// excerpt returns line n of text, trimmed ("" if out of range). It does not
// build the locator, which an error about the text's nesting must not need.
func excerpt(text string, n int) string {
	text = strings.TrimPrefix(text, "\ufeff")
	for ; n > 1; n-- {
		i := strings.IndexByte(text, '\n')
		if i < 0 {
			return ""
		}
		text = text[i+1:]
	}
	if n < 1 {
		return ""
	}
	if i := strings.IndexByte(text, '\n'); i >= 0 {
		text = text[:i]
	}
	return strings.TrimSpace(text)
}

// locator returns the locator of the text, building it on first use.
func (d *decoder) locator() *locator {
	if d.loc == nil {
		d.loc = newLocator(d.text)
	}
	return d.loc
}

// allCPUs returns 0..n-1.
func allCPUs(n int) []int {
	l := make([]int, n)
	for i := range l {
		l[i] = i
	}
	return l
}

// missing reports a required key that is absent.
func missing(key string) *Error {
	return &Error{Key: key, Msg: "missing (required)"}
}

// keyError wraps err, a problem with the value of key.
func keyError(key string, err error) *Error {
	return &Error{Key: key, Msg: err.Error(), Err: err}
}

// checkRange reports n outside lo..hi.
func checkRange(key string, n, lo, hi int64) error {
	switch {
	case n >= lo && n <= hi:
		return nil
	case lo == 0 && n < 0:
		return &Error{Key: key, Msg: fmt.Sprintf("%d is negative", n)}
	}
	return &Error{Key: key, Msg: fmt.Sprintf("%d is out of range %d-%d", n, lo, hi)}
}

// wrongType reports a value of the wrong TOML type.
func wrongType(key, want string, v any) *Error {
	return &Error{Key: key, Msg: fmt.Sprintf("wrong type: want %s, got %s", want, describe(v))}
}

// describe names the TOML type of a decoded value, with the value if it is
// short: `string "8"`, "integer 5", "array".
func describe(v any) string {
	switch v := v.(type) {
	case string:
		if len(v) > 40 {
			return "a string"
		}
		return "string " + strconv.Quote(v)
	case int64:
		return "integer " + strconv.FormatInt(v, 10)
	case float64:
		return "float " + strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return "boolean " + strconv.FormatBool(v)
	case time.Time:
		return "a datetime"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T", v)
}
