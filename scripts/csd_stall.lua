-- A CPU sits 60 s with interrupts off; CSD-lock debugging reports the stuck call, then it recovers.
--
-- CPU 1 disables interrupts and busy-waits for 60 s. CPU 0 sends it a
-- synchronous smp_call_function_single and spins on the CSD lock. With
-- csdlock_debug=1 and csd_lock_timeout=5000 ms, kernel/smp.c reports the
-- wait after 5 s, then at growing intervals (T*(n+1)*k, with k = 2 for 4
-- online CPUs), dumps CPU 1 once by NMI and its own stack on the first
-- report. When CPU 1 re-enables interrupts it takes the IPI, runs the
-- function, and the waiter prints "got unstuck".

param("csdlock_debug", 1)
param("csd_lock_timeout", 5000)

local ran_at
function stalled_func(info)
  ran_at = now()
end

spawn(1, "stall", function()
  local flags = local_irq_save()
  mdelay(60 * 1000)                 -- 60 s with interrupts off
  local_irq_restore(flags)
end)

local caller = spawn(0, "caller", function()
  return smp_call_function_single(1, stalled_func, nil, 1)
end)

run(s(4))
assert(not csd_lock_is_stuck())
run(s(2))                            -- t = 6 s: the first report is out
assert(csd_lock_is_stuck(), "the 5 s report should have fired")
assert(dmesg_find("Detected non%-responsive CSD lock %(#1%) on CPU#0, waiting 5000000001 ns for CPU#01"))
assert(dmesg_find("NMI backtrace for cpu 1"))
-- CPU 1 runs no csd (it is "unresponsive"), so the waiter re-sends the IPI.
assert(dmesg_find("Re%-sending CSD lock %(#1%) IPI from CPU#00 to CPU#01"))

run(s(60))
assert(caller:done() and caller:result() == 0)
assert(ran_at and ran_at > s(60), "the function ran when interrupts came back on")
assert(not csd_lock_is_stuck())
assert(dmesg_find("got unstuck on CPU#00, CPU#01 released the lock"))
for _, line in ipairs(dmesg()) do print(line) end
