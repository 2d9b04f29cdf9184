package xcall

import (
	"slices"

	"github.com/xcallsh/xcallsh/emu"
)

// Points are named places in the kernel code where a script can stop the
// world and run operator code (hook()): a race that needs one precise
// interleaving is written down once and replays forever. The names follow
// the kernel functions and steps they mirror; docs/hotplug.md#points lists them.
var Points = []string{
	// smp_call_function_single / generic_exec_single
	"smp_call_function_single:online_check",
	"smp_call_function_single:llist_add",
	"smp_call_function_single:before_ipi",
	// smp_call_function_many_cond
	"smp_call_function_many_cond:online_snapshot",
	"smp_call_function_many_cond:llist_add",
	"smp_call_function_many_cond:before_ipi",
	// __flush_smp_call_function_queue
	"flush_smp_call_function_queue:dequeued",
	// stop_machine (multi_cpu_stop), reached by every stopper
	"stop_machine:PREPARE",
	"stop_machine:DISABLE_IRQ",
	"stop_machine:RUN",
	"stop_machine:EXIT",
	// take_cpu_down, on the dying CPU after it left cpu_online_mask
	"take_cpu_down:offline",
}

func init() {
	for s := range cpuhpSteps {
		Points = append(Points, "cpuhp:"+cpuhpState(s).String())
	}
}

// Hook is operator code run at a point: cpu is the CPU that reached it.
type Hook func(cpu int, point string) error

// IsPoint reports whether name is a known point.
func IsPoint(name string) bool { return slices.Contains(Points, name) }

// SetHook installs h at point (nil removes it). Unknown names are refused.
func (k *Kernel) SetHook(point string, h Hook) bool {
	if !IsPoint(point) {
		return false
	}
	if k.hooks == nil {
		k.hooks = map[string]Hook{}
	}
	if h == nil {
		delete(k.hooks, point)
	} else {
		k.hooks[point] = h
	}
	return true
}

// point is reached by c: run the hook, if any, with the world stopped,
// then let whatever it started at this instant run before c goes on.
func (k *Kernel) point(c *emu.Context, name string) {
	if len(k.hooks) != 0 || k.M.Recording() { // as pointFor, written out to stay small enough to inline
		k.runHook(c, name, c.CPU)
	}
}

// pointFor is point with the CPU the hook is told about given explicitly
// (cpuhp points report the CPU going up or down).
func (k *Kernel) pointFor(c *emu.Context, name string, cpu int) {
	if len(k.hooks) != 0 || k.M.Recording() { // small enough to inline: no call when no hook is set
		k.runHook(c, name, cpu)
	}
}

func (k *Kernel) runHook(c *emu.Context, name string, cpu int) {
	if k.M.Recording() {
		k.M.Emit(c.CPU, &emu.Event{Kind: emu.EvPoint, Name: name})
	}
	h := k.hooks[name]
	if h == nil {
		return
	}
	var err error
	k.M.AsOperator(func() { err = h(cpu, name) })
	if err != nil {
		k.fail(c, err)
	}
	c.YieldNow()
}
