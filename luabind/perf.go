package luabind

import (
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// PerfLuaCallSingleSync: one op = one smp_call_function_single(wait=1)
// from CPU 0 to CPU 1 of x86-4, driven from a Lua task with a Lua callback.
func PerfLuaCallSingleSync(b *testing.B) {
	b.ReportAllocs()
	s, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.K.RecordWrites = false
	s.L.SetGlobal("N", lua.LNumber(b.N))
	b.ResetTimer()
	_, err = s.Exec("bench.lua", `
local function nop() end
local t = spawn(0, function()
  for i = 1, N do smp_call_function_single(1, nop, nil, 1) end
end)
while not t:done() do run(s(1)) end
`)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
}
