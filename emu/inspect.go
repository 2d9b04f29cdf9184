package emu

// Read-only accessors for debuggers (the xcallsh shell's info cpus, cpu
// and bt): state the engine keeps unexported, shown and never changed.

// InNMI reports whether the CPU runs an NMI handler now (nmi_enter()
// has been called and nmi_exit() not yet).
func (c *CPU) InNMI() bool { return c.inNMI }

// NMIPending reports whether an NMI was raised on the CPU and not yet taken.
func (c *CPU) NMIPending() bool { return c.nmi && !c.inNMI }

// Vector is the vector a handler context took (-1: an NMI); 0 for other
// contexts.
func (c *Context) Vector() int {
	if c.Kind == KindIRQ || c.Kind == KindNMI {
		return int(c.vector)
	}
	return 0
}
