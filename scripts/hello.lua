-- One smp_call_function_single from CPU 0 to CPU 1, traced end to end.
--
-- Run it:  go run ./cmd/xcallsh run hello            (the default machine, x86-4)
--          go run ./cmd/xcallsh run hello -m arm64-8 (any built-in machine)
--          go run ./cmd/xcallsh run hello --trace hello.txt
--
-- CPU 0 runs a task that asks CPU 1 to run `greet` and waits for it. The
-- request travels as a csd on CPU 1's call_single_queue, an IPI written to
-- the interrupt controller (x2APIC MSR 0x830, xAPIC ICR2/ICR, or GICv3
-- ICC_SGI1R_EL1), and CPU 1's interrupt handler, which runs the function.

local ran_on, ran_in_task

function greet(info)
  ran_on = smp_processor_id()
  ran_in_task = in_task()
  printk("greet: hello from CPU %d, info=%d", ran_on, info)
end

local caller = spawn(0, "caller", function()
  local t0 = now()
  local ret = smp_call_function_single(1, greet, 42, 1)
  return ret, now() - t0
end)

run(ms(1))

assert(caller:done(), "the caller did not finish")
local ret, took = caller:result()
assert(ret == 0, "smp_call_function_single returned " .. tostring(ret))
assert(ran_on == 1, "greet ran on CPU " .. tostring(ran_on))
assert(ran_in_task == false, "greet must run in the IPI handler (hard-irq context)")

-- Every register write the interrupt controller saw: the IPI to CPU 1.
for _, w in ipairs(irqchip_writes()) do
  print(string.format("t=%dns CPU%d wrote %s = %s", w.t, w.cpu, w.reg, w.value))
end
print(string.format("smp_call_function_single(1, greet, 42, 1) = %d after %d ns", ret, took))
print(dmesg_find("greet:"))
