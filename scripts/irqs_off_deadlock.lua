-- Two CPUs call each other with interrupts disabled: the deadlock smp_call_function_single warns about.
--
-- Each CPU disables interrupts and sends the other a synchronous call.
-- Neither can take the other's IPI, so both spin on their csd forever. The
-- kernel prints its WARN_ON_ONCE (kernel/smp.c:660) for whichever caller
-- comes first, and the emulator names the cycle.

local function caller(other)
  return function()
    local_irq_disable()
    smp_call_function_single(other, function() end, nil, 1)
    local_irq_enable()
  end
end

spawn(0, "a", caller(1))
spawn(1, "b", caller(0))
run(ms(10))

assert(dmesg_find("WARNING: CPU: [01] PID: %d+ at kernel/smp.c:660 smp_call_function_single"))
local st = stuck()
assert(st, "the machine must be stuck")
assert(st:find("CPU0 spins on csd #%d+ owned by CPU1 with interrupts off"), st)
assert(st:find("CPU1 spins on csd #%d+ owned by CPU0 with interrupts off"), st)
print(st)
