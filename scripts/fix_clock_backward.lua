-- The waiter's own clock steps back during a CSD-lock wait (fix 9fbaa44114ca on and off).
-- machines: x86-4, arm64-8
--
-- CPU 1 sits 50 ms with interrupts off; CPU 0 waits on a synchronous call
-- to it with csdlock_debug=1 and csd_lock_timeout=5000. 2 ms into the wait
-- CPU 0's clock steps back 3 ms, below the time the wait started: the
-- timeout test subtracts unsigned, the difference wraps and passes.
--   fix on  (v6.12 on): csd_lock_wait_toolong() sees ts0 > ts2, prints
--           "sched_clock on CPU 0 went backward by ... ns", blames nobody
--           and restarts the timeout; the call completes at 50 ms quietly.
--   fix off (v5.10 to v6.11): a "Detected non-responsive CSD lock" report
--           with a negative wait blames a healthy CPU 1: its NMI backtrace,
--           a re-sent IPI, the waiter's stack, then "got unstuck" at 50 ms.
-- A step back smaller than the time already waited wraps nothing: no line.

param("csdlock_debug", 1)
param("csd_lock_timeout", 5000)
function healthy_func(info) end

local function trial(fix_on, step)
  fix("clock_backward_check", fix_on)
  local t0 = now()
  spawn(1, "busy", function()
    local flags = local_irq_save()
    mdelay(50)
    local_irq_restore(flags)
  end)
  local caller = spawn(0, "caller", function() return smp_call_function_single(1, healthy_func, 7, 1) end)
  run(ms(2))
  clock_skew(0, step)
  run(ms(60))
  assert(caller:done() and caller:result() == 0, "the call must complete")
  return t0
end

local function count(pattern)
  local n = 0
  for _, line in ipairs(dmesg()) do
    if line:find(pattern) then n = n + 1 end
  end
  return n
end

-- A step back of 1 ms, 2 ms into the wait: the clock stays past ts0.
trial(true, -ms(1))
trial(false, -ms(1))
assert(count("csd:") == 0 and count("went backward") == 0, "a small step must wrap nothing")

trial(true, -ms(3))
assert(count("went backward") == 1 and count("csd:") == 0, "with the fix, nobody is blamed")
print(dmesg_find("sched_clock on CPU 0 went backward by %d+ ns"))

trial(false, -ms(3))
assert(count("went backward") == 1, "without the fix, no clock message")
assert(dmesg_find("smp: csd: Detected non%-responsive CSD lock %(#1%) on CPU#0, waiting %-%d+ ns for CPU#01 healthy_func%+0x0/0x%x+%(0x7%)%."))
assert(dmesg_find("smp: \tcsd: CSD lock %(#1%) unresponsive%."))
assert(dmesg_find("Sending NMI from CPU 0 to CPUs 1:"))
assert(dmesg_find("smp: csd: Re%-sending CSD lock %(#1%) IPI from CPU#00 to CPU#01"))
assert(dmesg_find("smp: csd: CSD lock %(#1%) got unstuck on CPU#00, CPU#01 released the lock%."))
print(dmesg_find("Detected non%-responsive"))
print(dmesg_find("got unstuck"))
