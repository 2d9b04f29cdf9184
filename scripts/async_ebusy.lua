-- smp_call_function_single_async on a csd that is still in flight returns -EBUSY.
--
-- CPU 0 queues csd to CPU 1 while CPU 1 has interrupts off; the csd stays
-- locked until CPU 1 takes the IPI, so a second submission of the same csd
-- is refused with -EBUSY (commit 5a18ceca6350). ASYNC csds are unlocked
-- before their function runs (commit 8053871d0f7f), so the function itself
-- may re-arm its csd.

local count = 0
local csd
function tick(info)
  count = count + 1
  if count < 3 then
    -- re-arm from inside the callback: allowed, the csd is already unlocked
    assert(smp_call_function_single_async(1, csd) == 0)
  end
end

spawn(1, "irqs-off", function()
  local_irq_disable()
  mdelay(1)
  local_irq_enable()
end)

local t = spawn(0, "sender", function()
  csd = csd_init(tick, nil)
  local first = smp_call_function_single_async(1, csd)
  local locked = csd:locked()
  local second = smp_call_function_single_async(1, csd)
  return first, locked, second
end)

run(ms(2))
local first, locked, second = t:result()
assert(first == 0, "first submit: " .. tostring(first))
assert(locked == true, "the csd stays locked until CPU 1 runs it")
assert(second == -EBUSY, "second submit: " .. tostring(second))
assert(count == 3, "tick ran " .. count .. " times")
print(string.format("first=%d locked=%s second=%d (-EBUSY) ticks=%d", first, tostring(locked), second, count))
