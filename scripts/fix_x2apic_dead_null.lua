-- x2APIC cluster bookkeeping after a failed CPU bring-up (fix 7a22e03b0c02 on and off).
-- machines: its own
--
-- Cluster x2APIC: CPU 3 is offline at boot and its bring-up fails in
-- do_boot_cpu (-EINVAL), before the CPU runs, so it never links its
-- cluster mask (init_x2apic_ldr from smp_callin). The hotplug core rolls
-- back through the teardown of CPUHP_X2APIC_PREPARE, x2apic_dead_cpu().
--   fix on  (v5.4 on, and 4.19/5.3 stable): the teardown sees no mask and
--           does nothing; CPU 3 stays offline, and a call to CPUs 1 and 2
--           goes out as one logical write to cluster 0 with bits 1 and 2
--           only (destination 0x00000006).
--   fix off (v4.14 to v5.3, since 023a611748fd): the teardown clears a bit
--           in the mask through the NULL pointer: "BUG: kernel NULL pointer
--           dereference, address: 0000000000000008" at
--           x2apic_dead_cpu+0x1a/0x30, an oops and a panic.

machine([[
name = "x86-4-cluster-cpu3-offline"
description = "x86, 4 CPUs, cluster x2APIC, CPU 3 offline at boot"
arch = "x86_64"
cpus = 4
online = "0-2"
[irqchip]
kind = "x2apic"
mode = "cluster"
]])

local ran = {}
function where(info) ran[#ran + 1] = smp_processor_id() end

local function try_up()
  cpuhp_fail(3, "cpu:bringup", EINVAL)
  local up = spawn(0, "ctl", function() return cpu_up(3) end)
  return run(ms(1)), up
end

fix("x2apic_dead_null_check", true)
local outcome, up = try_up()
assert(outcome == "ok" and up:result() == -EINVAL, "the bring-up fails")
assert(cpu_state(3) == "offline")
assert(dmesg_find("^%[ *%d+%.%d+%] smpboot: do_boot_cpu failed%(%-22%) to wakeup CPU#3$"))
local w0 = #irqchip_writes()
local caller = spawn(0, "caller", function()
  preempt_disable()
  smp_call_function_many(cpumask("1-2"), where, nil, 1)
  preempt_enable()
end)
run(ms(1))
assert(caller:done())
table.sort(ran)
assert(#ran == 2 and ran[1] == 1 and ran[2] == 2)
local w = irqchip_writes()
assert(#w == w0 + 1, "one write for the cluster")
assert(w[w0 + 1].reg == "ICR" and w[w0 + 1].value:sub(1, 10) == "0x00000006", "logical destination: cluster 0, CPUs 1 and 2")
print(w[w0 + 1].value)

fix("x2apic_dead_null_check", false)
outcome = try_up()
assert(outcome == "panic", "the rollback dereferences the missing mask")
assert(panicked() == "BUG: kernel NULL pointer dereference, address: 0000000000000008")
assert(dmesg_find("RIP: 0010:x2apic_dead_cpu%+0x1a/0x30"))
print(dmesg_find("BUG: kernel NULL"))
print(dmesg_find("Kernel panic"))
