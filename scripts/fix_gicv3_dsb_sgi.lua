-- GICv3: the SGI overtakes the queueing stores without the DSB before ICC_SGI1R_EL1 (fix 21ec30c0ef52 on and off).
-- machines: its own
--
-- Under the native memory model (docs/memory.md) the stores that queue a
-- csd on CPU n's call_single_queue sit in the sender's store buffer for a
-- drawn time. gic_ipi_send_mask() writes ICC_SGI1R_EL1, a system register:
--   fix on  (wmb(), later dsb(ishst) by 80e4e1f47288): the DSB
--           waits for the stores, the target's llist_del_all() always
--           finds the csd; every call completes at once.
--   fix off (before: smp_wmb(), a DMB, which orders memory accesses only):
--           the SGI can arrive first, the handler finds an empty queue,
--           and the call waits for the CSD-lock debug code's re-sent IPI
--           (csd_lock_timeout, 10 ms here): "Detected non-responsive CSD
--           lock", "Re-sending CSD lock", "got unstuck"; the script stops
--           there with an error.
-- At seed 0 no store is delayed (native is sc), so the script passes; a
-- search finds the race at once:
--   xcallsh explore scripts/fix_gicv3_dsb_sgi.lua --memory native --runs 20
--   -> error: scripts/fix_gicv3_dsb_sgi.lua:67: fix off: a call was stranded 5 time(s): ...
--      (nearly every seed fails; shrunk to a decision or two: the store delays)
--   xcallsh run fix_gicv3_dsb_sgi --memory native --seed 1   reproduces it.

-- Which trials run: nil, both (fix on, then fix off); "on" or "off",
-- that trial alone. Edit it to measure one side under explore
-- (docs/memory.md#the-measured-goals).
local only = nil

machine([[
name = "arm64-4"
description = "arm64, 4 CPUs, GICv3"
arch = "arm64"
cpus = 4
[irqchip]
kind = "gicv3"
]])

param("csdlock_debug", 1)
param("csd_lock_timeout", 10)
function f(info) end

-- Three rounds of synchronous calls from CPU 0 to CPUs 1-3; how many had
-- to wait for the re-sent IPI.
local function trial(fix_on)
  fix("gicv3_dsb_before_sgi", fix_on)
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

if only ~= "off" then
  local on = trial(true)
  assert(on == 0 and not dmesg_find("Detected non%-responsive"), "fix on: the DSB orders the queueing before the SGI")
end
local off = only ~= "on" and trial(false) or 0
if off > 0 then
  assert(dmesg_find("Re%-sending CSD lock"), "the re-sent IPI rescued the call")
  error(string.format("fix off: a call was stranded %d time(s): the SGI overtook the llist_add", off))
end
print("fix on: every call at once; fix off: no store delayed on this schedule")
