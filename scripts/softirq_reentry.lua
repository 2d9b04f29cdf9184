-- A softirq that calls smp_call_function_single() on a CPU interrupted between llist_add() and the IPI (2019; fix 19dbdcb8039c warns).
--
-- A task on CPU 0 calls smp_call_function_single(1, f). llist_add() finds
-- CPU 1's queue empty, so this call owes CPU 1 the IPI. At that point (the
-- hook smp_call_function_single:before_ipi) a device interrupt hits CPU 0
-- (device_irq); its handler raises NET_RX_SOFTIRQ, which runs at its exit,
-- and the softirq handler calls smp_call_function_single(1, g) too. That
-- llist_add() finds the queue non-empty and sends no IPI: the softirq
-- waits for g, the interrupted call cannot send its IPI until the softirq
-- returns, and CPU 1 sleeps with two entries queued.
--   wait=1: the softirq spins in csd_lock_wait() on its own csd.
--   wait=0: both calls use CPU 0's one csd_data: the softirq spins in
--           csd_lock() on the csd the interrupted call just locked.
-- Either way only the CSD-lock debug code ends it (csdlock_debug=1): at
-- 5 s it reports, re-sends the IPI to CPU 1 (which runs no csd), CPU 1
-- runs both functions and the waiter gets unstuck. Without csdlock_debug
-- the hang is for good. The kernel's answer (19dbdcb8039c, v5.3) is only a
-- warning, WARN_ON_ONCE(!in_task()): fix("warn_softirq_calls", false)
-- removes it and changes nothing else.

machine("x86-4")
param("csdlock_debug", 1)

local log
local function f() log[#log + 1] = string.format("f on CPU %d at %d ns", smp_processor_id(), now()) end
local function g() log[#log + 1] = string.format("g on CPU %d at %d ns", smp_processor_id(), now()) end

local wait = 1
open_softirq(NET_RX_SOFTIRQ, function()
  log[#log + 1] = string.format("NET_RX softirq on CPU %d, in_task=%s: smp_call_function_single(1, g, wait=%d)",
    smp_processor_id(), tostring(in_task()), wait)
  smp_call_function_single(1, g, nil, wait)
  log[#log + 1] = string.format("softirq returns at %d ns", now())
end)

local armed = false
hook("smp_call_function_single:before_ipi", function(cpu)
  if cpu == 0 and armed then
    armed = false
    device_irq(0, function() __raise_softirq_irqoff(NET_RX_SOFTIRQ) end)
  end
end)

local function reenter(w)
  wait, log, armed = w, {}, true
  local t0 = now()
  local caller = spawn(0, "caller", function()
    local r = smp_call_function_single(1, f, nil, w)
    log[#log + 1] = string.format("caller returns %d at %d ns", r, now())
  end)
  run(s(10))
  assert(caller:done(), "the CSD-lock debug code got the caller out")
  print(string.format("wait=%d, from %d ns:", w, t0))
  for _, l in ipairs(log) do print("  " .. l) end
  return log
end

reenter(1)
assert(dmesg_find("WARNING: CPU: 0 PID: %d+ at kernel/smp%.c:%d+ smp_call_function_single"), "the in_task() warning")
assert(dmesg_find("smp: csd: CSD lock %(#1%) got unstuck on CPU#00, CPU#01 released the lock%."))

reenter(0)
assert(dmesg_find("smp: csd: CSD lock %(#2%) got unstuck on CPU#00, CPU#01 released the lock%."))

fix("warn_softirq_calls", false)
local warnings = 0
for _, l in ipairs(dmesg()) do if l:find("WARNING: CPU", 1, true) then warnings = warnings + 1 end end
reenter(1)
local after = 0
for _, l in ipairs(dmesg()) do if l:find("WARNING: CPU", 1, true) then after = after + 1 end end
assert(after == warnings, "no warning without the fix")
assert(dmesg_find("smp: csd: CSD lock %(#3%) got unstuck on CPU#00, CPU#01 released the lock%."))
print("warnings: " .. after)
