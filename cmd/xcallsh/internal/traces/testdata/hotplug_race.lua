-- Calls race cpu_down: CPU 0 takes CPU 1 down while CPU 2 keeps
-- cross-calling it, and the first IPI to CPU 3 is lost on its way.
-- Slices: the hotplug task's, each cpuhp state on the CPU that runs it,
-- CPU 1's offline period, the callers' CSD-lock waits.
ipi_drop(3)
spawn(0, "down", function() return cpu_down(1) end)
spawn(2, "caller", function()
  for i = 1, 4 do
    smp_call_function_single(1, function() end, nil, 1)
    udelay(20)
  end
  smp_call_function_single(3, function() end, nil, 0)
end)
run(ms(5))
spawn(0, "up", function() return cpu_up(1) end)
run(ms(5))
