-- Work queued on a CPU that is already offline: the "IPI on offline CPU" warning (fix 9e949a388635 on and off).
--
-- While CPU 3 goes down, after it left cpu_online_mask and after
-- smpcfd_dying_cpu flushed its queue, a hook queues one more callback on it
-- "from some other path" (inject_csd: a user of __smp_call_single_queue that
-- does not check cpu_online). When stop_machine re-enables interrupts, CPU 3
-- takes the IPI while offline.
--   fix on  (mainline): the flush sees the detached list, warns
--           "IPI on offline CPU 3" and names the callback.
--   fix off (before 2022): the check looked at the per-CPU queue, already
--           emptied by llist_del_all, so the warning never fired.
-- machines: x86-4, x86-xapic-8, x86-64, arm64-8, arm64-256

local ran = 0
function stray(info) ran = ran + 1 end

local function scenario(fix_on)
  fix("offline_check_list", fix_on)
  hook("cpuhp:sched:starting", function(cpu, point)
    if cpu == 3 and not cpu_online(3) then inject_csd(3, stray) end
  end)
  local ctl = spawn(0, "ctl", function()
    local down = cpu_down(3)
    hook("cpuhp:sched:starting", nil)
    return down, cpu_up(3)
  end)
  run(ms(5))
  local down, up = ctl:result()
  assert(down == 0 and up == 0)
end

scenario(false)
assert(ran == 1, "the stray callback ran on the offline CPU")
assert(not dmesg_find("IPI on offline CPU"), "fix off: no warning")

scenario(true)
assert(ran == 2)
assert(dmesg_find("IPI on offline CPU 3"), "fix on: the warning")
assert(dmesg_find("smp: IPI callback stray%+0x0/0x%x+ sent to offline CPU"))
print(dmesg_find("IPI on offline CPU"))
