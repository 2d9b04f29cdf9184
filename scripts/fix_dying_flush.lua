-- The 2014 race at CPU_DYING: an IPI that lands while the CPU goes offline (fix 8d056c48e486 on and off).
--
-- CPU 2 sends an async call to CPU 1 just before its stopper joins the
-- stop_machine that takes CPU 1 down. The other stoppers move to
-- DISABLE_IRQ before the IPI reaches CPU 1, so it stays pending there.
--   fix on  (mainline): smpcfd_dying_cpu flushes CPU 1's queue in the DYING
--           step: the callback runs there, no warning.
--   fix off (before 2014): nothing flushes; when stop_machine re-enables
--           interrupts CPU 1 is already offline, takes the IPI, prints
--           "IPI on offline CPU 1" and runs the callback on an offline CPU.
-- machines: x86-4, x86-xapic-8, x86-64, arm64-8, arm64-256

local where = {}
function late_callback(info)
  where[#where + 1] = { online = cpu_online(1), hardirq = in_hardirq(), state = cpu_state(1) }
end

local function race(fix_on)
  fix("dying_flush", fix_on)
  local t0 = now()
  spawn(2, "sender", function()
    preempt_disable()
    mdelay(1)                                -- stop_machine is queued meanwhile
    smp_call_function_single(1, late_callback, nil, 0)
    preempt_enable()                         -- the stopper preempts us right here
  end)
  local ctl = spawn(0, "ctl", function()
    udelay(900)
    return cpu_down(1)
  end)
  run(ms(5))
  assert(ctl:done() and ctl:result() == 0, "cpu_down failed")
  assert(cpu_state(1) == "offline")
  local up = spawn(0, "ctl-up", function() return cpu_up(1) end)
  run(ms(5))
  assert(up:result() == 0)
end

race(true)
assert(#where == 1, "the callback must run exactly once")
assert(where[1].online == false and where[1].hardirq == false and where[1].state == "smpcfd:dying",
  "with the fix, the callback runs in smpcfd_dying_cpu")
assert(not dmesg_find("IPI on offline CPU"))

race(false)
assert(#where == 2, "the callback must run exactly once")
assert(where[2].online == false and where[2].hardirq == true,
  "without the fix, the callback runs from the IPI on the offline CPU")
assert(dmesg_find("IPI on offline CPU 1"))
assert(dmesg_find("smp: IPI callback late_callback%+0x0/0x%x+ sent to offline CPU"))
print(dmesg_find("IPI on offline CPU"))
print(dmesg_find("sent to offline CPU"))
