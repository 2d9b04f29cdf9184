-- Async csds: -EBUSY for one still in flight (5a18ceca6350) and unlock-before-func (8053871d0f7f), each on and off.
--
-- 1. A callback re-arms its own csd with smp_call_function_single_async.
--    ASYNC csds are unlocked before their function runs (8053871d0f7f), so
--    that works. Before the fix they were unlocked after it, like SYNC ones:
--    the re-arm finds the csd locked and gets -EBUSY, so the callback is lost.
-- 2. CPU 1, with interrupts off, submits a csd that is already queued to
--    itself. With 5a18ceca6350 that is -EBUSY at once; before it the csd
--    was taken with csd_lock(), which spins until CPU 1 itself runs the csd:
--    CPU 1 spins forever on its own csd with interrupts off.
-- machines: x86-4, x86-xapic-8, x86-64, arm64-8, arm64-256

local function rearm_count(fix_on)
  fix("async_unlock_before_func", fix_on)
  local count, rets = 0, {}
  local csd
  local function tick()
    count = count + 1
    if count < 3 then
      local r = smp_call_function_single_async(2, csd)
      rets[#rets + 1] = r
    end
  end
  spawn(0, function()
    csd = csd_init(tick, nil)
    return smp_call_function_single_async(2, csd)
  end)
  run(ms(1))
  return count, rets
end

local n, rets = rearm_count(true)
assert(n == 3 and rets[1] == 0 and rets[2] == 0, "fix on: the callback re-arms itself twice")
n, rets = rearm_count(false)
assert(n == 1 and rets[1] == -EBUSY, "fix off: the re-arm is refused, the callback is lost")
fix("async_unlock_before_func", true)

local function self_submit(fix_on)
  fix("async_ebusy", fix_on)
  local csd
  local sender = spawn(0, function()
    csd = csd_init(function() end, nil)
    return smp_call_function_single_async(1, csd)
  end)
  local victim = spawn(1, function()
    local_irq_disable()
    udelay(10)                      -- the csd arrives meanwhile: queued, locked
    local ret = smp_call_function_single_async(1, csd)
    local_irq_enable()
    return ret
  end)
  run(ms(1))
  return victim
end

local v = self_submit(true)
assert(v:done() and v:result() == -EBUSY, "fix on: -EBUSY")
assert(not stuck())
v = self_submit(false)
assert(not v:done(), "fix off: CPU 1 spins on its own csd")
local st = stuck()
assert(st and st:find("CPU1 spins on csd #%d+ owned by CPU1 with interrupts off"), tostring(st))
assert(dmesg_find("WARNING: CPU: 1 PID: %d+ at kernel/smp.c:342 smp_call_function_single_async"),
  "the pre-fix kernel warned before waiting")
print(st)
