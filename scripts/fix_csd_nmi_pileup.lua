-- Every CSD waiter NMIs the same stalled CPU: the debug-induced pile-up (fix 0d3a00b37042 on and off).
-- machines: its own
--
-- CPU 7 sits 2 s with interrupts off. CPUs 0-6 each wait on a synchronous
-- call to it, started 30 ms apart, with csdlock_debug=1 and
-- csd_lock_timeout=100: each waiter reports at 100, 500, 1100 and 1900 ms
-- into its wait (8 CPUs online: k = 2). An NMI backtrace costs the stalled
-- CPU 20 ms of printing ([timing] nmi_backtrace), and only one backtrace
-- runs at a time (lib/nmi_backtrace.c's backtrace_flag).
--   fix on  (v6.6 on): the first report disarms CPU 7's trigger_backtrace;
--           it is re-armed only when CPU 7 flushes its queue, at the end
--           of its stall: 25 reports (the last waiters' fourth comes after
--           2 s), one NMI in all, and each waiter dumps its own stack on
--           its first report only (commit 5bd00f6db012); CPU 7 answers at
--           2 s.
--   fix off (v5.10 to v6.5): every report of every waiter NMIs CPU 7 and
--           dumps the waiter's stack: 25 NMIs, 500 ms of CPU 7's time spent
--           printing backtraces, 25 waiter stacks; the stall ends during
--           one, so CPU 7 answers 10 ms late.

machine([[
name = "x86-8-slow-console"
description = "x86-8 whose NMI backtraces take 20 ms to print"
arch = "x86_64"
cpus = 8
[irqchip]
kind = "x2apic"
mode = "cluster"
[timing]
nmi_backtrace = 20000000
[kernel]
csdlock_debug = 1
csd_lock_timeout = 100
]])

function stalled_func(info) end

local function count(pattern)
  local n = 0
  for _, line in ipairs(dmesg()) do
    if line:find(pattern) then n = n + 1 end
  end
  return n
end

local function pileup(fix_on)
  fix("csd_nmi_once", fix_on)
  local nmi0, stacks0, reports0 = count("NMI backtrace for cpu 7"), count("csd_lock_wait_toolong%+"), count("non%-responsive")
  local t0 = now()
  spawn(7, "stall", function()
    local flags = local_irq_save()
    mdelay(2000)
    local_irq_restore(flags)
  end)
  local callers = {}
  for c = 0, 6 do
    callers[#callers + 1] = spawn(c, "caller" .. c, function()
      msleep(30 * c)
      return smp_call_function_single(7, stalled_func, c, 1)
    end)
  end
  run(s(3))
  for _, t in ipairs(callers) do
    assert(t:done() and t:result() == 0, "every call completes")
  end
  -- How long after its stall CPU 7 released the last waiter.
  local last = 0
  for _, line in ipairs(dmesg()) do
    local sec, usec = line:match("^%[ *(%d+)%.(%d+)%] smp: csd: CSD lock %(#%d+%) got unstuck")
    if sec then last = math.max(last, tonumber(sec) * 1000000000 + tonumber(usec) * 1000) end
  end
  return count("NMI backtrace for cpu 7") - nmi0, count("csd_lock_wait_toolong%+") - stacks0,
    count("non%-responsive") - reports0, last - (t0 + s(2))
end

local nmis, stacks, reports, late = pileup(true)
print(string.format("fix on:  %d reports, %d NMI backtraces of CPU 7, %d waiter stacks, answered %d ms after the stall",
  reports, nmis, stacks, math.floor(late / 1000000)))
assert(reports == 25 and nmis == 1 and stacks == 7)
assert(late < ms(1), "with the fix, CPU 7 answers as its stall ends")

nmis, stacks, reports, late = pileup(false)
print(string.format("fix off: %d reports, %d NMI backtraces of CPU 7, %d waiter stacks, answered %d ms after the stall",
  reports, nmis, stacks, math.floor(late / 1000000)))
assert(reports == 25 and nmis == 25 and stacks == 25)
assert(late >= ms(5), "without it, CPU 7 is printing a backtrace when its stall ends and answers late")
