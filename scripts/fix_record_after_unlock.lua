-- The CSD-lock diagnostics read a csd after releasing it (2020 linux-next; fixed in 35feb60474bf as merged).
-- machines: x86-4, arm64-8
--
-- With csdlock_debug=1 the flush records which csd a CPU runs
-- (csd_lock_record) for the reports. A synchronous call's csd lives in
-- the caller's stack frame, and csd_unlock() hands it back: from then on
-- the caller may return and the frame be reused.
--   fix on  (as merged, v5.10 on): the record is set before the function
--           and cleared with csd_lock_record(NULL) after csd_unlock();
--           the csd is never touched after its release.
--   fix off (linux-next, July 2020): csd_lock_record(csd) after the
--           unlock reads csd->func and csd->info from the released csd.
--           xcallsh's csd-lifetime check catches the read and reports it
--           in KASAN's format, then panics as with kasan.fault=panic.

param("csdlock_debug", 1)
function remote_func(info) end

local function call()
  local caller = spawn(0, "caller", function() return smp_call_function_single(1, remote_func, 5, 1) end)
  return run(ms(1)), caller
end

fix("record_null_after_unlock", true)
local outcome, caller = call()
assert(outcome == "ok" and caller:done() and caller:result() == 0)
assert(not dmesg_find("KASAN"), "with the fix, no csd is read after its release")

fix("record_null_after_unlock", false)
outcome = call()
assert(outcome == "panic", "without the fix, the lifetime check stops the kernel")
assert(panicked() == "kasan.fault=panic set ...")
assert(dmesg_find("^%[ *%d+%.%d+%] BUG: KASAN: stack%-out%-of%-bounds in __flush_smp_call_function_queue%+0x1a3/0x6b0$"))
assert(dmesg_find("^%[ *%d+%.%d+%] Read of size 8 at addr ffffc900%x+ by task swapper/1/0$"))
assert(dmesg_find("xcallsh: csd %x+ was released by csd_unlock%(%) to CPU 0 before this read"))
print(dmesg_find("BUG: KASAN"))
print(dmesg_find("Kernel panic"))
