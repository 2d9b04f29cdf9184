-- A lost IPI's callback runs when its CPU leaves idle for another reason (do_idle flushes the queue).
--
-- kernel/sched/idle.c: do_idle() calls flush_smp_call_function_queue()
-- before schedule_idle(), so an idle CPU that is woken, for whatever
-- reason, runs what is queued on it first.
--
-- The next IPI to CPU 2 is lost: a synchronous call to CPU 2 waits on its
-- csd, and nothing interrupts CPU 2. A millisecond later a task is spawned
-- on CPU 2: its idle loop exits, the idle task runs the callback (in task
-- context, interrupts off), then the new task runs, and the caller returns.

ipi_drop(2)
local order = {}
local caller = spawn(0, "caller", function()
  local r = smp_call_function_single(2, function()
    order[#order + 1] = string.format("callback on CPU %d, in_task=%s", smp_processor_id(), tostring(in_task()))
  end, nil, 1)
  order[#order + 1] = "caller returns"
  return r
end)
run(ms(1))
assert(not caller:done(), "the call waits: its IPI was lost")
spawn(2, "other", function() order[#order + 1] = "other task on CPU " .. smp_processor_id() end)
run(ms(1))
assert(caller:done() and caller:result() == 0, "the idle loop's flush released the caller")
assert(#order == 3 and order[1] == "callback on CPU 2, in_task=true" and order[2] == "other task on CPU 2"
  and order[3] == "caller returns", table.concat(order, "; "))
print(table.concat(order, "\n"))
