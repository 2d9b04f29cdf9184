package xcall

import (
	"math/bits"
	"strings"

	"github.com/xcallsh/xcallsh/machines"
)

// Cpumask is a set of CPU numbers below nr_cpu_ids (struct cpumask).
type Cpumask struct {
	w []uint64
}

// NewCpumask returns an empty mask for nr CPUs.
func NewCpumask(nr int) Cpumask { return Cpumask{w: make([]uint64, (nr+63)/64)} }

// MaskOf returns a mask of nr CPUs holding cpus (out-of-range ones dropped).
func MaskOf(nr int, cpus ...int) Cpumask {
	m := NewCpumask(nr)
	for _, c := range cpus {
		if c >= 0 && c < nr {
			m.Set(c)
		}
	}
	return m
}

// ParseCpumask parses a CPU list such as "0-3,6" for a machine of nr CPUs.
func ParseCpumask(nr int, s string) (Cpumask, error) {
	cpus, err := machines.ParseCPUList(s)
	if err != nil {
		return Cpumask{}, err
	}
	return MaskOf(nr, cpus...), nil
}

func (m Cpumask) Set(c int)       { m.w[c>>6] |= 1 << (c & 63) }
func (m Cpumask) Clear(c int)     { m.w[c>>6] &^= 1 << (c & 63) }
func (m Cpumask) Test(c int) bool { return c >= 0 && c>>6 < len(m.w) && m.w[c>>6]&(1<<(c&63)) != 0 }
func (m Cpumask) Copy() Cpumask   { return Cpumask{w: append([]uint64(nil), m.w...)} }
func (m Cpumask) Nbits() int      { return len(m.w) * 64 }
func (m *Cpumask) Reset()         { clear(m.w) }
func (m Cpumask) Weight() (n int) {
	for _, x := range m.w {
		n += bits.OnesCount64(x)
	}
	return n
}

// CopyFrom makes m equal to o (same size).
func (m Cpumask) CopyFrom(o Cpumask) { copy(m.w, o.w) }

// And keeps only the CPUs also in o.
func (m Cpumask) And(o Cpumask) {
	for i := range m.w {
		if i < len(o.w) {
			m.w[i] &= o.w[i]
		} else {
			m.w[i] = 0
		}
	}
}

// Next returns the first CPU >= from in m, or -1.
func (m Cpumask) Next(from int) int {
	if from < 0 {
		from = 0
	}
	i := from >> 6
	if i >= len(m.w) {
		return -1
	}
	x := m.w[i] &^ (1<<(from&63) - 1)
	for {
		if x != 0 {
			return i<<6 | bits.TrailingZeros64(x)
		}
		i++
		if i >= len(m.w) {
			return -1
		}
		x = m.w[i]
	}
}

// CPUs lists the CPUs of m, ascending.
func (m Cpumask) CPUs() []int { return m.AppendCPUs(nil) }

// AppendCPUs appends the CPUs of m to dst, ascending.
func (m Cpumask) AppendCPUs(dst []int) []int {
	for c := m.Next(0); c >= 0; c = m.Next(c + 1) {
		dst = append(dst, c)
	}
	return dst
}

// List renders m as a range list, like the kernel's %*pbl ("0-3,6").
func (m Cpumask) List() string { return machines.FormatCPUList(m.CPUs()) }

// Bitmap renders the first nbits of m as the kernel's %*pb: hex in 32-bit
// chunks, most significant first, separated by commas; the first chunk only
// as wide as its bits need.
func (m Cpumask) Bitmap(nbits int) string {
	var b strings.Builder
	chunks := (nbits + 31) / 32
	first := nbits % 32
	if first == 0 {
		first = 32
	}
	const hex = "0123456789abcdef"
	for ci := chunks - 1; ci >= 0; ci-- {
		var v uint32
		if w := ci / 2; w < len(m.w) {
			v = uint32(m.w[w] >> (32 * (ci % 2)))
		}
		width := 8
		if ci == chunks-1 {
			width = (first + 3) / 4
			if first < 32 {
				v &= 1<<first - 1
			}
		}
		for d := width - 1; d >= 0; d-- {
			b.WriteByte(hex[(v>>(4*d))&0xf])
		}
		if ci > 0 {
			b.WriteByte(',')
		}
	}
	return b.String()
}
