package xcall_test

import (
	"fmt"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
	"github.com/xcallsh/xcallsh/xcall"
)

// Boot a built-in machine: every CPU of its online list is up at time 0,
// and the kernel log has the boot messages.
func ExampleBoot() {
	spec, err := machines.Builtin("x86-4")
	if err != nil {
		fmt.Println(err)
		return
	}
	k, err := xcall.Boot(spec, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer k.Close()
	fmt.Println("online:", k.NumOnline(), "CPU 3:", k.CPUState(3))
	for _, l := range k.M.Log() {
		fmt.Println(l)
	}
	// Output:
	// online: 4 CPU 3: online
	// [    0.000000] IPI shorthand broadcast: enabled
	// [    0.000000] smp: Bringing up secondary CPUs ...
	// [    0.000000] smp: Brought up 1 node, 4 CPUs
}

// smp_call_function_single from a task on CPU 0: the function runs on
// CPU 2 in its call-function IPI handler, and with wait set the caller
// spins on the csd until it has.
func ExampleKernel_SmpCallFunctionSingle() {
	spec, err := machines.Builtin("x86-4")
	if err != nil {
		fmt.Println(err)
		return
	}
	k, err := xcall.Boot(spec, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer k.Close()
	hello := &xcall.Func{Name: "hello", Size: 0x20, Fn: func(c *emu.Context, info any) error {
		fmt.Printf("%d ns: %s on CPU %d, in a task: %v\n", k.M.Now(), info, c.CPU, k.InTask(c))
		return nil
	}}
	k.M.Spawn(0, "caller", func(c *emu.Context) {
		ret := k.SmpCallFunctionSingle(c, 2, hello, "hello", true)
		fmt.Printf("%d ns: CPU %d: smp_call_function_single returned %d\n", k.M.Now(), c.CPU, ret)
	})
	if err := k.M.RunUntil(1e6); err != nil {
		fmt.Println(err)
	}
	// Output:
	// 1410 ns: hello on CPU 2, in a task: false
	// 1510 ns: CPU 0: smp_call_function_single returned 0
}
