-- Cross-calls hammer CPUs while they go offline and online again; every call must keep the kernel's promises.
--
-- Each CPU runs a sender that picks random targets (math.random draws from
-- the run's seed) and calls smp_call_function_single with and without wait,
-- smp_call_function_many and on_each_cpu. CPU 0 takes the other CPUs down
-- and up in turn. Checked: every call returns 0 or -ENXIO; each waited call
-- that returned 0 ran exactly once, on its target; no function runs on an
-- offline CPU; nothing hangs; no "IPI on offline CPU" warning.
-- Try other seeds: go run ./cmd/xcallsh run hotplug_storm --seed 42

local N = nr_cpu_ids
local errors = {}
local function fail(msg) errors[#errors + 1] = msg end

local function make(id)
  return { id = id, runs = 0 }
end
function on_target(call)
  call.runs = call.runs + 1
  if call.want and smp_processor_id() ~= call.want then
    fail(string.format("call %d ran on CPU %d, wanted %d", call.id, smp_processor_id(), call.want))
  end
  if not cpu_online(smp_processor_id()) and cpu_state(smp_processor_id()) ~= "smpcfd:dying" then
    fail(string.format("call %d ran on offline CPU %d", call.id, smp_processor_id()))
  end
end

local calls, sent, stop = 0, 0, false
local function sender(self)
  return function()
    while not stop do
      calls = calls + 1
      local call = make(calls)
      local kind = math.random(4)
      local target = math.random(0, N - 1)
      if kind == 1 or kind == 2 then
        call.want = target
        local ret = smp_call_function_single(target, on_target, call, kind == 1)
        if ret ~= 0 and ret ~= -ENXIO then fail("single returned " .. ret) end
        if kind == 1 and ret == 0 and call.runs ~= 1 then
          fail(string.format("call %d returned 0 but ran %d times", call.id, call.runs))
        end
        if ret == -ENXIO and call.runs ~= 0 then fail("an -ENXIO call ran") end
      elseif kind == 3 then
        preempt_disable()
        smp_call_function_many(cpu_online_mask(), on_target, call, 1)
        preempt_enable()
      else
        on_each_cpu(on_target, call, 1)
      end
      sent = sent + 1
      udelay(math.random(1, 20))
      -- Tasks on one CPU do not preempt each other: sleep now and then so
      -- the hotplug task on CPU 0 gets its turn.
      if math.random(32) == 1 then msleep(1) end
    end
  end
end

for cpu = 0, math.min(N - 1, 7) do spawn(cpu, "sender", sender(cpu)) end

local cycles = 0
local ctl = spawn(0, "hotplug", function()
  for round = 1, 3 do
    for cpu = 1, math.min(N - 1, 3) do
      local d = cpu_down(cpu)
      if d ~= 0 then fail("cpu_down(" .. cpu .. ") = " .. d) end
      udelay(50)
      local u = cpu_up(cpu)
      if u ~= 0 then fail("cpu_up(" .. cpu .. ") = " .. u) end
      cycles = cycles + 1
    end
  end
  stop = true
end)

run(ms(100))
assert(ctl:done(), "the hotplug task did not finish: " .. tostring(stuck()))
run(ms(1))
assert(not stuck(), stuck())
assert(not dmesg_find("IPI on offline CPU"), dmesg_find("IPI on offline CPU"))
assert(#errors == 0, table.concat(errors, "\n"))
print(string.format("%d down/up cycles, %d calls completed", cycles, sent))
