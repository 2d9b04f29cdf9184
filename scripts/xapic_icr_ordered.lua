-- xAPIC: the ICR write is an uncached store, ordered behind the queueing stores (the negative control of 25a068b8e9a4).
-- machines: its own
--
-- The same calls as scripts/fix_x2apic_wrmsr_fence.lua on an xAPIC
-- machine under the native memory model (docs/memory.md): x86 keeps a
-- store to the memory-mapped ICR behind the sender's earlier stores, so
-- the IPI never finds an empty queue, with weak_wrmsr_fence() or without
-- (it is only used before x2APIC MSR writes anyway). No seed fails:
--   xcallsh explore scripts/xapic_icr_ordered.lua --memory native --runs 20
--   -> 20 runs (random, shard 0/1), 0 failed, 0 distinct failures

machine([[
name = "x86-4-xapic"
description = "x86, 4 CPUs, xAPIC physical"
arch = "x86_64"
cpus = 4
[irqchip]
kind = "xapic"
mode = "physical"
]])

param("csdlock_debug", 1)
param("csd_lock_timeout", 10)
function f(info) end

-- Three rounds of synchronous calls from CPU 0 to CPUs 1-3; how many had
-- to wait for the re-sent IPI.
local function trial(fix_on)
  fix("x2apic_weak_wrmsr_fence", fix_on)
  local late = 0
  local t = spawn(0, "caller", function()
    for round = 1, 3 do
      for cpu = 1, 3 do
        local t0 = now()
        smp_call_function_single(cpu, f, nil, 1)
        if now() - t0 >= ms(10) then late = late + 1 end
      end
    end
  end)
  run(ms(500))
  assert(t:done(), "the caller finished")
  return late
end

for _, fix_on in ipairs({true, false}) do
  assert(trial(fix_on) == 0, "xAPIC: the ICR store stays behind the queueing stores")
end
assert(not dmesg_find("Detected non%-responsive"))
print("xAPIC: every call at once, with weak_wrmsr_fence or without")
