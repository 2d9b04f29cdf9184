-- The negative control of fix_tlb_switch_mm: with fea4e317f9e7 and 83b0177a6c48 the flusher or the switcher always sees the other.
-- machines: its own
--
-- The workload of scripts/fix_tlb_switch_mm.lua with both fixes on
-- (docs/memory.md, "The TLB flush path"): switch_mm_irqs_off() has a full
-- barrier between its LOADED_MM_SWITCHING store and its tlb_gen load
-- (cpumask_set_cpu()'s LOCK, or the smp_mb() of 83b0177a6c48), the
-- flusher's tlb_gen increment is LOCKed, and should_flush_tlb() sends the
-- IPI to a CPU it sees switching (fea4e317f9e7). Store buffering cannot
-- hide both sides from each other: either the flusher sees the switch and
-- sends the IPI, or the switcher reads the new tlb_gen and flushes. No
-- schedule finds a stale TLB, under --memory sc or native:
--   xcallsh explore tlb_switch_mm_fixed --memory native --runs 100000
--   -> 100000 runs (random, shard 0/1), 0 failed, 0 distinct failures
-- With either fix alone the window is still open (docs/memory.md).

machine("x86-4")
fix("should_flush_tlb_switching", true)
fix("switch_mm_smp_mb", true)

local rounds = 400

local thread = spawn(3, "thread2", function()
  switch_mm("A")
  for i = 1, rounds do udelay(4) end
end)

local reader = spawn(2, "reader", function()
  for i = 1, rounds do
    switch_mm("A")
    ndelay(1500)
    enter_lazy_tlb()
    ndelay(500)
    switch_mm("B")
    ndelay(500)
  end
end)

local writer = spawn(0, "writer", function()
  switch_mm("A")
  for i = 1, rounds do
    flush_tlb_mm_range("A")
    ndelay(2000)
  end
end)

local function finished() return thread:done() and reader:done() and writer:done() end
run(ms(2))
-- Under --memory native a csd_unlock() can wait in the store buffer, and
-- every flush waits for it: give such a run longer to finish.
if not finished() then run(ms(8)) end
assert(finished(), "every task finished")
local st = cpu_tlbstate(2)
print(string.format("tlb_gen(A) = %d; CPU 2 in %s; mm_cpumask(A) = %s", mm_tlb_gen("A"), st.loaded_mm, tostring(mm_cpumask("A"))))
