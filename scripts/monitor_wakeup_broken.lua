-- A CPU that advertises polling in idle but that need-resched does not wake: the elided IPI never comes (Goldmont, 2020).
-- machines: its own
--
-- Poll idle: CPU 2's idle task has its polling flag set, so a cross call
-- to it sends no IPI (call_function_single_prep_ipi sets need-resched,
-- sched_wake_idle_without_ipi). A working CPU sees the flag change and
-- leaves its idle loop, which runs the callback. A CPU whose MWAIT monitor
-- does not fire (monitor_wakeup_broken, the Goldmont erratum) sleeps on:
-- only an interrupt wakes it. The kernel's s2idle path left the polling
-- flag set on such CPUs until Chen Yu's "PM: s2idle: Clear
-- _TIF_POLLING_NRFLAG before suspend to idle" (v5.8-rc): with the flag
-- clear, callers send a real IPI.
--   working CPU: the call returns after the wake latency, no IPI sent.
--   broken CPU, csdlock_debug on: the caller waits; at 5 s the CSD-lock
--           report, whose NMI backtrace of CPU 2 wakes it: its idle loop
--           sees need-resched, runs the callback, and the waiter gets
--           unstuck. The debug code hides the hang it reports.

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

param("csdlock_debug", 1)
local ran = {}
local function f() ran[#ran + 1] = string.format("callback on CPU %d at %d ns", smp_processor_id(), now()) end

local function call_cpu2()
  local w0, t0 = #irqchip_writes(), now()
  local caller = spawn(0, "caller", function() return smp_call_function_single(2, f, nil, 1) end)
  run(s(10))
  assert(caller:done() and caller:result() == 0, "the call returns")
  return #irqchip_writes() - w0
end

assert(monitor_wakeup_broken(2) == false)
local writes = call_cpu2()
assert(writes == 0 and #ran == 1, "a working polling CPU needs no IPI")
assert(not dmesg_find("csd: Detected"), "and nothing is reported")
print("working CPU 2: IPIs sent " .. writes .. ", " .. ran[1])

monitor_wakeup_broken(2, true)
writes = call_cpu2()
assert(#ran == 2, "the callback ran")
local report = dmesg_find("smp: csd: Detected non%-responsive CSD lock %(#1%) on CPU#0, waiting 5%d+ ns for CPU#02")
assert(report, "the CSD-lock report")
assert(dmesg_find("smp: csd: CSD lock %(#1%) got unstuck on CPU#00, CPU#02 released the lock%."), "got unstuck")
print("broken CPU 2: IPIs sent " .. writes .. ", " .. ran[2])
print(report)
