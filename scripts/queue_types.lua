-- SYNC, ASYNC, IRQ_WORK and TTWU entries on one call_single_queue: the flush order (fix 52103be07d8b on and off).
-- machines: x86-4, x86-xapic-8, x86-64, arm64-8, arm64-256
--
-- Since v5.8 a CPU's call_single_queue holds four kinds of entry: SYNC
-- and ASYNC csds, irq_work queued to another CPU (4b44a21dd640) and
-- remote wake-ups (CSD_TYPE_TTWU, a148866489fb). CPU 2 has interrupts
-- off while, in this order, CPU 0 queues an ASYNC csd (its function busy
-- for 50 us), CPU 1 an IRQ_WORK, CPU 3 a wake-up, and CPU 0 a SYNC call
-- it waits for. Only the first push finds the queue empty and sends an
-- IPI.
--   fix on  (v5.8 on): the flush runs the SYNC entry first, then the
--           ASYNC and IRQ_WORK ones in queue order, then the wake-up, whose
--           task runs after the handler; the waiter is released first.
--   fix off (v5.7 and before): one pass in queue order; the waiter is
--           released only after the ASYNC callback's 50 us.
-- The wake-ups stay last either way (v5.7 did not queue them here).

local order, released
local function note(what) order[#order + 1] = what end
function async_func(info) note("ASYNC"); udelay(50) end
function irq_work_func(info) note("IRQ_WORK") end
function woken_task(info) note("TTWU") end
function sync_func(info) note("SYNC") end

local function flush(fix_on)
  fix("sync_first", fix_on)
  order, released = {}, nil
  local writes = #irqchip_writes()
  spawn(2, "irqs-off", function()
    local_irq_disable()
    mdelay(1)
    local_irq_enable()
  end)
  local t0 = now()
  spawn(0, "caller", function()
    assert(smp_call_function_single_async(2, csd_init(async_func, nil)) == 0)
    udelay(3)
    assert(smp_call_function_single(2, sync_func, nil, 1) == 0)
    released = now() - t0
  end)
  spawn(1, "irq-worker", function()
    udelay(1)
    assert(smp_xcall_private(2, csd_init(irq_work_func, nil), XCALL_TYPE_IRQ_WORK) == 0)
  end)
  spawn(3, "waker", function()
    udelay(2)
    assert(smp_xcall_private(2, csd_init(woken_task, nil), XCALL_TYPE_TTWU) == 0)
  end)
  run(ms(3))
  assert(released, "the SYNC caller must return")
  return table.concat(order, ","), released, #irqchip_writes() - writes
end

local on, on_t, on_ipis = flush(true)
assert(on == "SYNC,ASYNC,IRQ_WORK,TTWU", "fix on: " .. on)
local off, off_t, off_ipis = flush(false)
assert(off == "ASYNC,IRQ_WORK,SYNC,TTWU", "fix off: " .. off)
-- (45 us, not 50: under --memory native a buffered csd_unlock() can
-- release either waiter up to a few us late.)
assert(off_t >= on_t + us(45), "without the fix the waiter waits for the ASYNC callback")
assert(on_ipis == off_ipis)
print(string.format("fix on:  %s, the waiter released after %d ns", on, on_t))
print(string.format("fix off: %s, the waiter released after %d ns", off, off_t))
