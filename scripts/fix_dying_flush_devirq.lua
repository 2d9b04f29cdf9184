-- The 2014 race at CPU_DYING, device-interrupt variant: a device handler sends the IPI while its CPU's stopper is still in PREPARE (fix 8d056c48e486 on and off).
-- machines: x86-4, x86-xapic-8, x86-64, arm64-8, arm64-256
--
-- stop_machine() moves every stopper through PREPARE, DISABLE_IRQ, RUN
-- and EXIT together, but each CPU sees a new state when it next looks.
-- CPU 0 takes CPU 1 down. The instant CPU 1's stopper enters DISABLE_IRQ
-- (and turns its interrupts off), a device interrupts CPU 2, whose stopper
-- has not yet seen the new state and still takes interrupts; the handler
-- queues an async csd for CPU 1 and sends the IPI, which stays pending on
-- CPU 1. No task sends anything: preemption plays no part.
--   fix on  (mainline): smpcfd_dying_cpu flushes CPU 1's queue in the DYING
--           step: the callback runs there, interrupts off, no warning.
--   fix off (before 2014): nothing flushes; CPU 1 takes the IPI only when
--           stop_machine re-enables interrupts, offline by then: "IPI on
--           offline CPU 1" and the callback runs on an offline CPU.
-- (scripts/fix_dying_flush.lua is the same race with a task as sender.)

local where = {}
function late_callback(info)
  where[#where + 1] = { online = cpu_online(1), hardirq = in_hardirq(), state = cpu_state(1) }
end

local csd, sent, raised
function device_handler(info)
  assert(in_hardirq() and smp_processor_id() == 2)
  sent = smp_call_function_single_async(1, csd)   -- a driver's handler may not wait
end

hook("stop_machine:DISABLE_IRQ", function(cpu)
  if cpu == 1 and not raised then
    raised = true
    device_irq(2, device_handler)
  end
end)

local function race(fix_on)
  fix("dying_flush", fix_on)
  csd, sent, raised = csd_init(late_callback, nil), nil, false
  local ctl = spawn(0, "ctl", function() return cpu_down(1) end)
  run(ms(5))
  assert(ctl:done() and ctl:result() == 0, "cpu_down failed")
  assert(cpu_state(1) == "offline")
  assert(sent == 0, "the handler's call must be queued: " .. tostring(sent))
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
print(string.format("fix on:  the callback ran in %s, offline, not in an interrupt", where[1].state))
print(string.format("fix off: the callback ran in an IPI handler on offline CPU 1 (%s)", where[2].state))
print(dmesg_find("IPI on offline CPU"))
