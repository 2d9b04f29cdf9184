-- A GICv3 with range selectors delivers SGIs to CPUs with Aff0 > 15 (the working case of scripts/gicv3_no_rss.lua).
-- machines: its own
--
-- The same 18 CPUs in one cluster (Aff0 0..17) on a GIC that supports
-- range selectors (ICC_CTLR_EL1.RSS, GICD_TYPER.RSS): no boot warning,
-- and the same ICC_SGI1R_EL1 write, RS 1 with target-list bit 1
-- (0x0000100001000002), reaches CPU 17.

machine([[
name = "arm64-18-rss"
description = "arm64, 18 CPUs in one cluster (Aff0 0-17), a GIC with range selectors"
arch = "arm64"
cpus = 18
[irqchip]
kind = "gicv3"
cluster_size = 18
[kernel]
csdlock_debug = 1
]])

assert(not dmesg_find("RSS"), "no boot warning")

local ran = {}
function where(info) ran[#ran + 1] = smp_processor_id() end

local w0 = #irqchip_writes()
local far = spawn(0, "far", function() return smp_call_function_single(17, where, 17, 1) end)
run(ms(1))
local w = irqchip_writes()[w0 + 1]
assert(w.cpu == 0 and w.reg == "ICC_SGI1R_EL1" and w.value == "0x0000100001000002")
assert(far:done() and far:result() == 0 and ran[1] == 17, "CPU 17 runs the call")
assert(not dmesg_find("csd:"))
print(w.value, ran[1])
