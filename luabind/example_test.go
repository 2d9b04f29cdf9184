package luabind_test

import (
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/xcallsh/xcallsh/luabind"
)

// New boots a machine (a built-in name or a TOML file) and gives it a Lua
// state with the API of docs/api.md.
func ExampleNew() {
	s, err := luabind.New(luabind.Options{Machine: "arm64-8", Seed: 0})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	fmt.Println(s.Spec().Name, s.Spec().Arch, s.K.NrCPUIDs(), "CPUs")
	// Output: arm64-8 arm64 8 CPUs
}

// Exec runs a chunk at operator level: here a task on CPU 0 cross-calls
// CPU 1 and waits, and the operator advances virtual time until it is done.
func ExampleSession_Exec() {
	s, err := luabind.New(luabind.Options{Machine: "x86-4", Stdout: os.Stdout})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	vals, err := s.Exec("example.lua", `
local function hello(info)
  printk("hello from CPU %d, info %s\n", smp_processor_id(), info)
end
local t = spawn(0, function()
  return smp_call_function_single(1, hello, "x", 1)
end)
print(run(ms(1)), t:done(), t:result())
print(dmesg_find("hello"))
return now()
`)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("returned", vals[0])
	// Output:
	// ok	true	0
	// [    0.000001] hello from CPU 1, info x
	// returned 1000000
}

// A failing script is a *ScriptError whose message reads "file:line: text".
func ExampleSession_Exec_error() {
	s, err := luabind.New(luabind.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	_, err = s.Exec("bad.lua", "mdelay(5)")
	var se *luabind.ScriptError
	fmt.Println(errors.As(err, &se), err)
	_, err = s.Exec("bad.lua", "spawn(9, print)")
	fmt.Println(err)
	// Output:
	// true bad.lua:1: mdelay: must be called from a task or a cross-called function (it needs a CPU; use spawn)
	// bad.lua:1: bad argument #1 to 'spawn' (cpu 9 out of range 0-3)
}
