-- A delayed IPI: IPIs to CPU 2 arrive 50 us late. The arrow of the call's
-- IPI must end at the handler that really took it, 50 us after the send
-- (plus the IPI latency), not one latency after it.
ipi_delay(2, us(50))
local t = spawn(0, "caller", function()
  return smp_call_function_single(2, function() end, nil, 1)
end)
run(ms(1))
assert(t:done() and t:result() == 0)
