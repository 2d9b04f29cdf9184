-- The 2022 smp_xcall RFC next to kernel/smp.c: every semantic difference, shown on a running machine.
--
-- See docs/xcall.md for the table this scenario checks, row by row. The
-- machine has CPU 3 offline so the offline cases can be seen.
-- machines: its own

machine([[
name = "x86-4-cpu3-offline"
description = "x86-4 with CPU 3 offline at boot"
arch = "x86_64"
cpus = 4
online = "0-2"
[irqchip]
kind = "x2apic"
]])

local ran = {}
local function record(tag)
  return function(info) ran[#ran + 1] = tag .. "@" .. smp_processor_id() end
end
local function take()
  table.sort(ran)                 -- same-instant order varies with the seed
  local out = table.concat(ran, " ")
  ran = {}
  return out
end

local rows = {}
local function row(name, old, new)
  rows[#rows + 1] = string.format("%-34s | %-28s | %s", name, old, new)
end

spawn(0, "demo", function()
  -- 1. A valid but offline CPU.
  local a = smp_call_function_single(3, record("f"), nil, 1)
  local ra = take()
  local b = smp_xcall(3, record("f"), nil, XCALL_TYPE_SYNC)
  local rb = take()
  assert(a == -ENXIO and ra == "" and b == 0 and rb == "")
  row("offline cpu 3", "-ENXIO, nothing runs", "0, nothing runs")

  -- 2. An out-of-range CPU: both -ENXIO; xcall also logs "Invalid cpu ID".
  a = smp_call_function_single(9, record("f"), nil, 1)
  b = smp_xcall(9, record("f"), nil, XCALL_TYPE_SYNC)
  assert(a == -ENXIO and b == -ENXIO and dmesg_find("smp: Invalid cpu ID = 9"))
  row("cpu 9 (>= nr_cpu_ids)", "-ENXIO", "-ENXIO + \"Invalid cpu ID = 9\"")

  -- 3. A mask that contains the caller.
  preempt_disable()
  smp_call_function_many("0-2", record("f"), nil, 1)
  preempt_enable()
  local ma = take()
  smp_xcall_mask("0-2", record("f"), nil, XCALL_TYPE_SYNC)
  local mb = take()
  assert(ma == "f@1 f@2", ma)
  assert(mb:find("f@0") and mb:find("f@1") and mb:find("f@2"), mb)
  row("mask 0-2 from CPU 0", "runs on " .. ma, "runs on " .. mb)

  -- 4. All CPUs.
  smp_call_function(record("f"), nil, 1)
  local aa = take()
  smp_xcall(XCALL_ALL, record("f"), nil, XCALL_TYPE_SYNC)
  local ab = take()
  assert(aa == "f@1 f@2" and ab:find("f@0"), aa .. " / " .. ab)
  row("smp_call_function / XCALL_ALL", "runs on " .. aa, "runs on " .. ab)

  -- 5. on_each_cpu and smp_xcall(XCALL_ALL) agree.
  on_each_cpu(record("f"), nil, 1)
  local oa = take()
  assert(oa:find("f@0") and oa:find("f@1") and oa:find("f@2"), oa)
  row("on_each_cpu", "runs on " .. oa, "same as XCALL_ALL")

  -- 6. The private/async csd on an offline CPU.
  local csd = csd_init(record("f"), nil)
  a = smp_call_function_single_async(3, csd)
  b = smp_xcall_private(3, csd, XCALL_TYPE_ASYNC)
  assert(a == -ENXIO and b == -ENXIO and dmesg_find("smp: cpu ID must be >=0 && < nr_cpu_ids"))
  row("async csd to offline cpu 3", "-ENXIO", "-ENXIO + a warning line")

  -- 7. smp_xcall_any refuses flags that are not exactly SYNC or ASYNC.
  b = smp_xcall_any("1-2", record("f"), nil, XCALL_TYPE_IRQ_WORK)
  a = smp_call_function_any("1-2", record("f"), nil, 1)
  assert(a == 0 and take() == "f@1" and b == -EINVAL)
  row("*_any with irq_work flags", "(no flags argument)", "-EINVAL")

  -- 8. A synchronous private csd: smp_xcall_private waits; _async never does.
  local done = false
  csd = csd_init(function() mdelay(1); done = true end, nil)
  b = smp_xcall_private(1, csd, XCALL_TYPE_SYNC)
  assert(b == 0 and done and not csd:locked())
  row("private csd, SYNC", "(async only)", "waits until func returned")
end)

run(ms(50))
print(string.format("%-34s | %-28s | %s", "case", "kernel/smp.c", "smp_xcall (RFC v1)"))
for _, r in ipairs(rows) do print(r) end
assert(#rows == 8, "all rows ran")
