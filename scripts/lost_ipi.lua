-- An IPI is lost in the interrupt controller; the CSD-lock debug re-send rescues the call.
--
-- The next IPI to CPU 2 is dropped. CPU 0's synchronous call waits on a
-- csd that sits in CPU 2's queue with no interrupt to drain it. At the
-- first report (csd_lock_timeout = 1000 ms here) the waiter sees that CPU 2
-- runs no csd ("unresponsive"), re-sends the IPI (commit 35feb60474bf), and
-- the call completes. With that fix turned off the call never completes.

param("csdlock_debug", 1)
param("csd_lock_timeout", 1000)

local function scenario(resend)
  fix("csd_resend_ipi", resend)
  ipi_drop(2)
  local ran = false
  local t = spawn(0, function()
    return smp_call_function_single(2, function() ran = true end, nil, 1)
  end)
  run(s(3))
  return t, ran
end

local t, ran = scenario(true)
assert(t:done() and t:result() == 0 and ran, "the re-sent IPI should have completed the call")
assert(dmesg_find("Re%-sending CSD lock %(#1%) IPI from CPU#00 to CPU#02"))
assert(dmesg_find("CSD lock %(#1%) got unstuck on CPU#00, CPU#02 released the lock"))
assert(not stuck())

-- The same loss without the re-send: the waiter reports forever.
local t2, ran2 = scenario(false)
assert(not t2:done() and not ran2, "without the re-send the call must hang")
assert(csd_lock_is_stuck())
assert(dmesg_find("Detected non%-responsive CSD lock %(#2%)"))
assert(not dmesg_find("Re%-sending CSD lock %(#2%)"), "no re-send with the fix off")
print("with the re-send: done at once; without: " .. (stuck() or "still waiting"))
