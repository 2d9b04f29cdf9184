-- A softirq raised by a callback that the idle loop ran stays pending (fix f9d34595ae4f off, then on).
-- machines: its own
--
-- Poll idle: CPU 2 idles with its polling flag set, so a cross call to it
-- sends no IPI (call_function_single_prep_ipi sets need-resched instead)
-- and its idle loop runs the callback (do_idle: the flush before
-- schedule_idle), in the idle task, not in an interrupt. The callback
-- raises BLOCK_SOFTIRQ with __raise_softirq_irqoff(), as blk-mq's remote
-- completion does: only the pending bit, counting on the irq_exit() of
-- the IPI that never came.
--   fix off (v5.8 to v5.11, since b2a02fc43a1f): nothing runs the softirq;
--           CPU 2 goes back to idle with it pending and the NOHZ code
--           reports it when it tries to stop the tick: "NOHZ tick-stop
--           error: local softirq work is pending, handler #10!!!" (0x10 is
--           1 << BLOCK_SOFTIRQ; kernels before 0345691b24c0 word it
--           "Non-RCU local softirq work is pending").
--   fix on  (v5.12 on): the idle loop's flush runs do_softirq() when a
--           softirq is pending: the handler runs right after the callback,
--           in softirq context on CPU 2, and nothing is logged.

machine([[
name = "x86-4-poll"
description = "x86, 4 CPUs, physical x2APIC, poll idle"
arch = "x86_64"
cpus = 4
[irqchip]
kind = "x2apic"
mode = "physical"
[kernel]
idle = "poll"
]])

local ran = {}
open_softirq(BLOCK_SOFTIRQ, function()
  ran[#ran + 1] = string.format("BLOCK softirq on CPU %d at %d ns, in_softirq=%s",
    smp_processor_id(), now(), tostring(in_softirq()))
end)

local function complete_remote()
  __raise_softirq_irqoff(BLOCK_SOFTIRQ)
end

local function complete_on_cpu2()
  local w0 = #irqchip_writes()
  local t0 = now()
  spawn(0, "io", function()
    smp_call_function_single_async(2, csd_init(complete_remote))
  end)
  run(ms(1))
  return #irqchip_writes() - w0, t0
end

fix("softirq_after_idle_flush", false)
local writes = complete_on_cpu2()
assert(writes == 0, "the call to polling CPU 2 sends no IPI")
assert(#ran == 0, "nothing ran the softirq")
assert(softirq_pending(2) == 2 ^ BLOCK_SOFTIRQ, "BLOCK_SOFTIRQ stays pending on CPU 2")
local line = dmesg_find("NOHZ tick%-stop error: local softirq work is pending, handler #10!!!$")
assert(line, "the NOHZ code reports the pending softirq")
print("fix off: IPIs sent " .. writes .. ", softirq handler runs " .. #ran .. ", pending on CPU 2: " .. softirq_pending(2))
print(line)

fix("softirq_after_idle_flush", true)
local lines = #dmesg()
writes = complete_on_cpu2()
assert(writes == 0 and #ran == 1, "the idle loop's flush runs the softirq")
assert(softirq_pending(2) == 0, "nothing stays pending")
assert(#dmesg() == lines, "nothing is logged")
print("fix on: IPIs sent " .. writes .. ", pending on CPU 2: " .. softirq_pending(2))
print(ran[1])
