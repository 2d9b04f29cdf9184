package emu

// Stuck detection: a description of what waits on what when no waiter
// can ever proceed.

import (
	"fmt"
	"strings"
)

// Stuck returns "" while the machine can still make progress, or a
// description of what waits on what when no waiter can ever proceed:
//
//   - no event is scheduled, yet some context waits: nothing will ever run
//     again to end those waits;
//   - busy waiters form a cycle through CPUs that cannot take interrupts
//     ("CPU0 spins on csd #3 owned by CPU1 with interrupts off; CPU1 spins
//     on csd #4 owned by CPU0 with interrupts off"), even if timers (debug
//     reports) keep firing.
func (m *Machine) Stuck() string {
	if m.stopped {
		return ""
	}
	if m.q.len() == 0 {
		var parts []string
		for i := range m.cpus {
			for c := m.cpus[i].top; c != nil; c = c.parent {
				if c.state == ctxWaiting {
					parts = append(parts, m.describeWait(c))
				}
			}
		}
		for _, c := range m.blocked {
			if c.state == ctxWaiting && !c.busy {
				parts = append(parts, m.describeWait(c))
			}
		}
		return strings.Join(parts, "; ")
	}
	// Cycle search: follow "waits for owner" edges from each busy waiter
	// whose CPU cannot take interrupts.
	for i := range m.cpus {
		if cyc := m.cycleFrom(i); cyc != "" {
			return cyc
		}
	}
	return ""
}

// blockedWaiter reports the waiting top context of cpu if it is a busy
// waiter with a known owner and interrupts off (so no handler can help).
func (m *Machine) blockedWaiter(cpu int) *Context {
	c := &m.cpus[cpu]
	t := c.top
	if t == nil || t.state != ctxWaiting || !t.busy || t.Wait.Owner < 0 || !c.IRQsOff {
		return nil
	}
	return t
}

func (m *Machine) cycleFrom(start int) string {
	var path []*Context
	cpu := start
	for steps := 0; steps <= len(m.cpus); steps++ {
		t := m.blockedWaiter(cpu)
		if t == nil {
			return ""
		}
		path = append(path, t)
		cpu = t.Wait.Owner
		if cpu == start {
			var parts []string
			for _, c := range path {
				parts = append(parts, m.describeWait(c))
			}
			return strings.Join(parts, "; ")
		}
		if cpu < 0 || cpu >= len(m.cpus) {
			return ""
		}
		// Only report cycles through start, so each cycle is found from its
		// lowest CPU first.
		if cpu < start {
			return ""
		}
	}
	return ""
}

func (m *Machine) describeWait(c *Context) string {
	what := c.Wait.What
	if what == "" {
		what = "waits"
	}
	s := fmt.Sprintf("CPU%d %s", c.CPU, what)
	if c.Wait.Num > 0 {
		s += fmt.Sprintf(" #%d", c.Wait.Num)
	}
	if c.Wait.Owner >= 0 {
		s += fmt.Sprintf(" owned by CPU%d", c.Wait.Owner)
	}
	if c.busy && m.cpus[c.CPU].IRQsOff {
		s += " with interrupts off"
	}
	if c.Kind == KindTask && c.Name != "" {
		s += " (" + c.Name + ")"
	}
	return s
}
