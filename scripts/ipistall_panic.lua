-- panic_on_ipistall: a CSD-lock wait longer than the limit BUGs at the next report.
--
-- csd_lock_timeout = 5000 ms and panic_on_ipistall = 20000 ms on a 4-CPU
-- machine: reports are due at 5 s, 25 s, 55 s. The BUG_ON is checked at each
-- report, so the wait that passes 20 s panics at the 25 s report, not at 20 s.
-- (The report schedule depends on the number of online CPUs: 4 to 15 here.)
-- machines: x86-4, x86-xapic-8, arm64-8

param("csdlock_debug", 1)
param("csd_lock_timeout", 5000)
param("panic_on_ipistall", 20000)

spawn(3, "stall", function()
  local_irq_disable()
  mdelay(120 * 1000)
end)
spawn(0, "caller", function()
  smp_call_function_single(3, function() end, nil, 1)
end)

assert(run(s(20)) == "ok")
assert(not panicked())
assert(run(s(10)) == "panic", "the 25 s report must panic")
assert(panicked() == "kernel BUG at kernel/smp.c:289!", panicked())
assert(now() >= s(25) and now() < s(26), "panicked at " .. now())
assert(dmesg_find("^%[%s+25%.%d+%] Kernel panic %- not syncing: Fatal exception") or
       dmesg_find("Kernel panic %- not syncing: Oops %- BUG: Fatal exception"))
print(panicked())
