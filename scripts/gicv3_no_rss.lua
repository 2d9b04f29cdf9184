-- A GICv3 without range selectors misroutes SGIs to CPUs with Aff0 > 15: a lost IPI and a CSD-lock hang.
-- machines: its own
-- validate: allow-pending
--
-- 18 CPUs in one cluster: Aff0 = 0..17. Linux encodes an SGI for Aff0 17
-- as RS 1, target-list bit 1 (ICC_SGI1R_EL1 0x0000100001000002). This GIC
-- has no range-selector support (ICC_CTLR_EL1.RSS and GICD_TYPER.RSS 0),
-- which gic_cpu_sys_reg_init() warns about at boot; it takes RS as 0, so
-- the SGI lands on CPU 1 (Aff0 1), which finds its queue empty. CPU 17
-- never hears of the call. With csdlock_debug the waiter reports CPU#17
-- "unresponsive" at 5 s; the NMI backtrace SGI and the re-sent IPI take
-- the same wrong path, so nothing answers: "Continued" reports, no "got
-- unstuck". A call to CPU 3 (Aff0 3, RS 0) works. The same machine with
-- range selectors is scripts/gicv3_rss.lua.

machine([[
name = "arm64-18-no-rss"
description = "arm64, 18 CPUs in one cluster (Aff0 0-17), a GIC without range selectors"
arch = "arm64"
cpus = 18
[irqchip]
kind = "gicv3"
cluster_size = 18
range_selector = false
[kernel]
csdlock_debug = 1
]])

assert(dmesg_find("^%[    0%.000000%] GICv3: CPU16 %(10%) can't SGI CPU0 %(0%), no RSS$"))
assert(dmesg_find("^%[    0%.000000%] GICv3: CPU17 %(11%) can't SGI CPU16 %(10%), no RSS$"))
assert(dmesg_find("^%[    0%.000000%] GICv3: RSS is required but GICD doesn't support it$"))

local ran = {}
function where(info) ran[#ran + 1] = smp_processor_id() end

local ok = spawn(0, "near", function() return smp_call_function_single(3, where, 3, 1) end)
run(ms(1))
assert(ok:done() and ran[1] == 3, "an SGI to Aff0 3 needs no range selector")

local w0 = #irqchip_writes()
local far = spawn(0, "far", function() return smp_call_function_single(17, where, 17, 1) end)
run(s(40))
local w = irqchip_writes()[w0 + 1]
assert(w.cpu == 0 and w.reg == "ICC_SGI1R_EL1" and w.value == "0x0000100001000002", "Linux encodes RS 1, bit 1")
assert(not far:done() and #ran == 1, "CPU 17 never runs the call")
assert(dmesg_find("smp: csd: Detected non%-responsive CSD lock %(#1%) on CPU#0, waiting 5000000001 ns for CPU#17 where%+0x0/0x%x+%(0x11%)%."))
assert(dmesg_find("smp: \tcsd: CSD lock %(#1%) unresponsive%."))
assert(dmesg_find("smp: csd: Re%-sending CSD lock %(#1%) IPI from CPU#00 to CPU#17"))
assert(dmesg_find("smp: csd: Continued non%-responsive CSD lock %(#1%)"))
assert(not dmesg_find("NMI backtrace for cpu 17"), "the backtrace SGI is misrouted too")
assert(not dmesg_find("got unstuck"))
assert(csd_lock_is_stuck())
print(w.value)
print(dmesg_find("Continued"))
