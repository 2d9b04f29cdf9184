package emu

// Support for the interactive shell (cmd/xcallsh), kept apart from the
// engine so the two can change independently.

// ClearInterrupt withdraws an Interrupt that no RunUntil has consumed yet.
// Interrupt only sets a flag that RunUntil polls between events; when the
// host interrupts something else (a Lua loop at operator level), the flag
// would otherwise stop the next, unrelated RunUntil at a point that depends
// on host timing. The shell calls it after every interrupted command.
//
// Like Interrupt it is safe from any goroutine, but it is meant for the
// driver, between runs.
func (m *Machine) ClearInterrupt() { m.interrupt.Store(false) }
