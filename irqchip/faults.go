// faults.go is IPI fault injection for the emulator (Lua's ipi_drop and
// ipi_delay). It mirrors no Linux file: real interrupt controllers do not
// lose IPIs on request, which is exactly why the kernel's CSD-lock debugging
// exists to notice when one went missing.

package irqchip

// Faults holds the IPI faults configured per target CPU: a number of IPIs
// still to be lost, and a delay added to every IPI's latency. The zero value
// has no faults and is ready to use. Memory grows only up to the highest CPU
// that was given a fault, so an 8192-CPU machine without faults costs
// nothing. Faults is owned by the emulation goroutine: the script sets the
// faults, the IPI delivery path consumes them through Filter.
type Faults struct {
	drops  []int   // drops[cpu]: IPIs to cpu still to be lost; grown by Drop
	delays []int64 // delays[cpu]: ns added to each IPI to cpu; grown by Delay
}

// Drop arranges for the next n IPIs sent to cpu (each target of a mask or
// shorthand IPI counts once) to be lost in the interrupt controller, on top
// of any drops still pending. n <= 0 adds nothing.
//
// Preconditions: cpu >= 0.
func (f *Faults) Drop(cpu, n int) {
	if n <= 0 {
		return
	}
	f.drops = grow(f.drops, cpu)
	f.drops[cpu] += n
}

// Delay makes every later IPI to cpu arrive d ns late; d <= 0 removes the
// delay.
//
// Preconditions: cpu >= 0.
func (f *Faults) Delay(cpu int, d int64) {
	if d <= 0 {
		if cpu < len(f.delays) {
			f.delays[cpu] = 0
		}
		return
	}
	f.delays = grow(f.delays, cpu)
	f.delays[cpu] = d
}

// Filter is called once for every IPI delivered to cpu. If a drop is pending
// for cpu it consumes one and reports dropped; extra is the delay configured
// for cpu (0 if none), reported whether or not the IPI was dropped.
func (f *Faults) Filter(cpu int) (dropped bool, extra int64) {
	if cpu >= 0 && cpu < len(f.drops) && f.drops[cpu] > 0 {
		f.drops[cpu]--
		dropped = true
	}
	if cpu >= 0 && cpu < len(f.delays) {
		extra = f.delays[cpu]
	}
	return dropped, extra
}

// PendingDrops returns how many IPIs to cpu are still to be lost.
func (f *Faults) PendingDrops(cpu int) int {
	if cpu >= 0 && cpu < len(f.drops) {
		return f.drops[cpu]
	}
	return 0
}

// Reset removes every fault.
func (f *Faults) Reset() {
	clear(f.drops)
	clear(f.delays)
}

// grow returns s extended with zeros so that s[cpu] exists.
func grow[T int | int64](s []T, cpu int) []T {
	if cpu < 0 {
		panic("irqchip: negative cpu in fault injection")
	}
	if cpu < len(s) {
		return s
	}
	return append(s, make([]T, cpu+1-len(s))...)
}
