package luabind

import "testing"

func BenchmarkLuaCallSingleSync(b *testing.B) { PerfLuaCallSingleSync(b) }
