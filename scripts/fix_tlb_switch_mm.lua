-- x86 TLB shootdown: should_flush_tlb() skips a CPU switching to the mm, which reads an old tlb_gen (fixes fea4e317f9e7 and 83b0177a6c48 off).
-- machines: its own
--
-- arch/x86/mm/tlb.c (docs/memory.md, "The TLB flush path"): CPU 0 changes
-- mm A's page tables over and over and calls flush_tlb_mm_range(A): a
-- LOCKed increment of A's tlb_gen, then on_each_cpu_cond_mask() over
-- mm_cpumask(A), where should_flush_tlb() reads each CPU's loaded_mm and
-- is_lazy to decide who gets the flush IPI. CPU 3 is another thread of A;
-- CPU 2 switches between A, a kernel thread (lazy) and mm B. Its
-- switch_mm_irqs_off() stores loaded_mm = LOADED_MM_SWITCHING, then reads
-- A's tlb_gen to decide whether its PCID's entries are current. Either
-- the flusher sees the switch and sends the IPI, or the switcher sees the
-- new tlb_gen; with the fixes off, neither:
--   should_flush_tlb_switching off (before fea4e317f9e7): a CPU seen
--     LOADED_MM_SWITCHING is skipped, even with every store visible at
--     once (--memory sc finds it too);
--   switch_mm_smp_mb off (before 83b0177a6c48): when CPU 2's bit is
--     still set in mm_cpumask(A) (it stays set after a switch away), no
--     LOCKed cpumask_set_cpu() orders the store before the load, and under
--     --memory native the store can sit in the store buffer while the
--     flusher reads the old loaded_mm (B).
-- CPU 2 then runs in A with its old TLB after the flush returned: the
-- checker stops the run with "stale TLB: ...". The kernel says nothing:
-- silent corruption. At seed 0 no store is delayed and the flushes miss
-- the window, so the script passes; a search finds it at once:
--   xcallsh explore fix_tlb_switch_mm --memory native --runs 10000
--   -> error: stale TLB: CPU 2 uses mm A with its TLB flushed only to tlb_gen N, after flush_tlb_mm_range(A) ...
-- With both fixes on it is clean: scripts/tlb_switch_mm_fixed.lua.

machine("x86-4")
-- The kernel: "6.13" has neither fix (before fea4e317f9e7); "6.17" is
-- 6.14 to 6.17.4, with fea4e317f9e7 but not 83b0177a6c48 (CVE-2025-40174),
-- where only the missing smp_mb() is left and only --memory native finds
-- it: about 1 run in 80 (`xcallsh explore` a copy with kernel = "6.17").
local kernel = "6.13"
fix("should_flush_tlb_switching", kernel == "6.17")
fix("switch_mm_smp_mb", false)

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
