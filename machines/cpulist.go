package machines

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MaxCPUs is the largest nr_cpu_ids a machine may have. CPU numbers run from
// 0 to MaxCPUs-1.
const MaxCPUs = 8192

// ParseCPUList parses a CPU list in the kernel's list format (what
// /sys/devices/system/cpu/online shows and cpulist_parse() accepts): comma
// separated CPU numbers and inclusive ranges, "0-3,6". Blanks around numbers,
// dashes and commas are ignored; the empty (or all-blank) string is the empty
// list. The result is ascending with duplicates removed.
//
// Every CPU number must be below MaxCPUs, so a list never expands to more than
// MaxCPUs entries. The kernel's stride form ("0-7:2/4") is not supported.
func ParseCPUList(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var present [MaxCPUs]bool
	n := 0
	for elem := range strings.SplitSeq(s, ",") {
		lo, hi, err := parseCPURange(elem)
		if err != nil {
			return nil, fmt.Errorf("invalid CPU list %q: %w", s, err)
		}
		for c := lo; c <= hi; c++ {
			if !present[c] {
				present[c] = true
				n++
			}
		}
	}
	cpus := make([]int, 0, n)
	for c := range present {
		if present[c] {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// parseCPURange parses one element of a CPU list: "N" or "N-M".
func parseCPURange(elem string) (lo, hi int, err error) {
	elem = strings.TrimSpace(elem)
	if elem == "" {
		return 0, 0, fmt.Errorf("empty element")
	}
	first, last, isRange := strings.Cut(elem, "-")
	if lo, err = parseCPUNumber(first); err != nil {
		return 0, 0, err
	}
	if !isRange {
		return lo, lo, nil
	}
	if hi, err = parseCPUNumber(last); err != nil {
		return 0, 0, err
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("range %d-%d ends before it starts", lo, hi)
	}
	return lo, hi, nil
}

// parseCPUNumber parses one decimal CPU number below MaxCPUs.
func parseCPUNumber(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("missing CPU number")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("%q is not a CPU number", s)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n >= MaxCPUs {
		return 0, fmt.Errorf("CPU %s is out of range 0-%d", s, MaxCPUs-1)
	}
	return n, nil
}

// FormatCPUList formats CPU numbers the way the kernel's "%*pbl" prints a
// cpumask: ascending, runs of consecutive CPUs collapsed into ranges, "0-3,6".
// The empty list formats as "". cpus need not be sorted or free of
// duplicates; it is not modified.
func FormatCPUList(cpus []int) string {
	if !slices.IsSorted(cpus) {
		cpus = slices.Sorted(slices.Values(cpus))
	}
	var b strings.Builder
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] <= cpus[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(cpus[i]))
		if cpus[j] != cpus[i] {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(cpus[j]))
		}
		i = j + 1
	}
	return b.String()
}

// CPUList is a list of CPU numbers that reads and writes itself in the
// kernel's list format (see ParseCPUList and FormatCPUList), for use in
// flags, TOML and other text encodings.
type CPUList []int

// UnmarshalText parses text with ParseCPUList.
func (l *CPUList) UnmarshalText(text []byte) error {
	cpus, err := ParseCPUList(string(text))
	if err != nil {
		return err
	}
	*l = cpus
	return nil
}

// MarshalText formats l with FormatCPUList.
func (l CPUList) MarshalText() ([]byte, error) {
	return []byte(FormatCPUList(l)), nil
}

// String formats l with FormatCPUList.
func (l CPUList) String() string { return FormatCPUList(l) }
