-- smp_call_function_many from a preemptible caller: the online-mask snapshot outlives a CPU offline (preemption off is the fix).
-- machines: x86-4, x86-xapic-8, x86-64, arm64-8, arm64-256
-- validate: allow-pending
--
-- smp_call_function_many() wants its caller to have preemption disabled
-- (kernel/smp.c, the function's kernel-doc). The reason: it takes the
-- target set as mask & cpu_online_mask, then queues a csd per CPU and
-- sends the IPIs. stop_machine() needs a stopper on every online CPU, the
-- caller's too, so while the caller cannot be preempted no CPU can finish
-- going offline between the snapshot and the IPIs; a CPU already on its
-- way out drains what reached it in smpcfd_dying_cpu().
--
-- CPU 2 takes CPU 1 down; CPU 0 calls smp_call_function_many({1,2},
-- wait=1) just as the stoppers start (the hook on stop_machine:PREPARE).
--   preemption off (a correct caller): CPU 0's stopper waits for the call;
--           both callbacks run on online CPUs, then CPU 1 goes offline.
--   preemption on (a wrong caller): CPU 0's stopper preempts it after the
--           snapshot and the first llist_add; CPU 1 goes offline with a
--           csd that no flush will run; the caller waits for good and,
--           with csdlock_debug, reports "Detected non-responsive CSD lock
--           (#1) on CPU#0 ... for CPU#01" against an offline CPU.

param("csdlock_debug", 1)

local ran = {}
function probe(info)
  local cpu = smp_processor_id()
  ran[#ran + 1] = { cpu = cpu, online = cpu_online(cpu) }
end

local started = false
hook("stop_machine:PREPARE", function(cpu)
  if cpu ~= 0 then started = true end
end)

local function race(preempt_off)
  started, ran = false, {}
  local sender = spawn(0, "sender", function()
    local_irq_disable()                      -- keep the stopper out until it is queued
    while not started do udelay(1) end
    local_irq_enable()
    if preempt_off then preempt_disable() end
    smp_call_function_many(cpumask("1-2"), probe, nil, 1)
    if preempt_off then preempt_enable() end
  end)
  local ctl = spawn(2, "ctl", function() return cpu_down(1) end)
  run(ms(20))
  assert(ctl:done() and ctl:result() == 0, "cpu_down failed")
  assert(cpu_state(1) == "offline")
  return sender
end

-- A correct caller.
local sender = race(true)
assert(sender:done(), "the call must return")
assert(#ran == 2, "both callbacks must run")
for _, r in ipairs(ran) do
  assert(r.online, "a callback ran on offline CPU " .. r.cpu)
end
print(string.format("preemption off: %d callbacks, on CPUs %d and %d, all online", #ran, ran[1].cpu, ran[2].cpu))

local up = spawn(3, "ctl-up", function() return cpu_up(1) end)
run(ms(5))
assert(up:result() == 0 and cpu_online(1))

-- A caller that leaves preemption on.
sender = race(false)
assert(not sender:done(), "the caller must still wait")
assert(#ran == 1 and ran[1].cpu == 2, "only CPU 2's callback runs")
assert(cpus_peek_for_pending_ipi(cpumask_of(1)), "the csd stays queued on offline CPU 1")
run(s(5))
local report = dmesg_find("Detected non%-responsive CSD lock %(#1%) on CPU#0, waiting %d+ ns for CPU#01 probe")
assert(report, "the waiter must report the offline CPU")
assert(not sender:done())
print(string.format("preemption on: %d callback (CPU %d), the csd for CPU 1 is queued on an offline CPU", #ran, ran[1].cpu))
print(report)
