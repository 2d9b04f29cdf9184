package emu_test

import (
	"fmt"

	"github.com/xcallsh/xcallsh/emu"
)

// Booting a machine: New gives idle CPUs at virtual time 0; a task spawned
// on a CPU runs when the machine runs, and RunUntil leaves the clock at
// the time asked for.
func ExampleNew() {
	m := emu.New(emu.Config{CPUs: 2})
	defer m.Close()
	m.Spawn(1, "hello", func(c *emu.Context) {
		fmt.Printf("%s (pid %d) on CPU%d at %d ns\n", c.Name, c.PID, c.CPU, c.Machine().Now())
	})
	if err := m.RunUntil(1000); err != nil {
		fmt.Println(err)
	}
	fmt.Println("now", m.Now(), "idle", m.CPU(1).Idle())
	// Output:
	// hello (pid 100) on CPU1 at 0 ns
	// now 1000 idle true
}

// Running events: At calls a function on the driver at a virtual time,
// RaiseIRQ makes a vector pending on a CPU, and the interrupt handler's
// body (OnInterrupt) runs on that CPU, spending its time with Spend.
func ExampleMachine_RunUntil() {
	m := emu.New(emu.Config{CPUs: 2})
	defer m.Close()
	m.OnInterrupt = func(c *emu.Context, vector int) {
		fmt.Printf("%d: CPU%d takes vector %#x\n", m.Now(), c.CPU, vector)
		done := func(c *emu.Context) {
			fmt.Printf("%d: CPU%d's handler returns\n", m.Now(), c.CPU)
		}
		if c.Spend(50, "handler", done) { // the time is spent already
			done(c)
		}
	}
	m.At(100, func() {
		fmt.Printf("%d: the operator sends an IPI\n", m.Now())
		m.RaiseIRQ(1, 0xfb, m.Now()+20)
	})
	if err := m.RunUntil(1000); err != nil {
		fmt.Println(err)
	}
	fmt.Println("events executed:", m.Executed())
	// Output:
	// 100: the operator sends an IPI
	// 120: CPU1 takes vector 0xfb
	// 170: CPU1's handler returns
	// events executed: 3
}

// A context that delays keeps its CPU busy: an interrupt arriving
// meanwhile is taken (interrupts are on), and the delay ends at its end
// time or when the handler returns, whichever is later. While it waits,
// the context is in a wait of kind WaitDelay.
func ExampleContext_Delay() {
	m := emu.New(emu.Config{CPUs: 1})
	defer m.Close()
	m.OnInterrupt = func(c *emu.Context, vector int) {
		fmt.Printf("%d: the handler interrupts %s\n", m.Now(), c.Parent().Name)
		c.Spend(300, "handler", nil)
	}
	task := m.Spawn(0, "worker", func(c *emu.Context) {
		c.Delay(1000, "udelay")
		fmt.Printf("%d: the delay is over\n", m.Now())
	})
	m.RaiseIRQ(0, 0x20, 900)
	if err := m.RunUntil(500); err != nil {
		fmt.Println(err)
	}
	fmt.Println("at 500 the worker waits:", task.WaitKind())
	if err := m.RunUntil(5000); err != nil {
		fmt.Println(err)
	}
	fmt.Println("done:", task.Done())
	// Output:
	// at 500 the worker waits: delay
	// 900: the handler interrupts worker
	// 1200: the delay is over
	// done: true
}
