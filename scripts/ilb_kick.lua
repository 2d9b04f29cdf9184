-- kick_ilb()'s nohz_csd: an owner flag released before the csd is free meets -EBUSY (fix 19a1f5ec6999 on and off).
-- machines: x86-4, x86-xapic-8, x86-64, arm64-8, arm64-256
--
-- kernel/sched/fair.c: kick_ilb() sets kick bits in the idle-load-balance
-- CPU's nohz_flags with an atomic fetch-or; whoever sets the first bit
-- owns that CPU's rq->nohz_csd and sends it with
-- smp_call_function_single_async(), whose -EBUSY it ignores. The -EBUSY
-- test is a plain read of the csd's lock bit, not an atomic claim: the
-- flag must stay set until the csd is free again. xcallsh has no
-- scheduler: this script plays kick_ilb(), nohz_csd_func() and
-- nohz_idle_balance() in Lua, following the fix switch.
--   fix on  (19a1f5ec6999, v5.8): nohz_csd_func(), the csd's ASYNC
--           callback, clears the bits: the csd is unlocked by then, so the
--           next owner's call always succeeds; a kick while one is
--           pending only adds its bits, served by the pending csd.
--   fix off (90b5363acd47, linux-next, May 2020): the bits are cleared in
--           nohz_idle_balance(), which the SCHED_SOFTIRQ of a CPU that is
--           not idle also reaches (it cancels the kick): the flag is free
--           while the csd is still queued, the next kicker owns it, and
--           its call fails with -EBUSY, ignored: the flag no longer
--           serialises the csd. Here the queued csd happens to pick the
--           new bits up; two owners passing the plain -EBUSY read at once
--           would queue the one csd twice (a corrupted llist), which this
--           model's single-step check cannot show.
-- CPU 3 is the ILB CPU; its IPIs arrive 20 us late, so the csd stays
-- queued while CPU 3's own softirq runs nohz_idle_balance() at 5 us.

local ILB = 3
local BALANCE, STATS = 1, 2
local flags, served, busy, warned
local nohz_csd

-- a | b for small flag words (Lua 5.1 has no bitwise operators)
local function bor(a, b)
  local r, bit = 0, 1
  while a > 0 or b > 0 do
    if a % 2 == 1 or b % 2 == 1 then r = r + bit end
    a = math.floor(a / 2)
    b = math.floor(b / 2)
    bit = bit * 2
  end
  return r
end

function nohz_csd_func(info)
  if fix("ilb_csd_release") then
    local f = flags
    flags = 0                                 -- the release, with the csd already unlocked
    if f == 0 then warned = true end          -- WARN_ON(!(flags & NOHZ_KICK_MASK))
    served = bor(served, f)
  elseif flags ~= 0 then                      -- got_nohz_idle_kick()
    served = bor(served, flags)               -- the softirq's nohz_idle_balance() clears them later
    flags = 0
  end
end

local function kick_ilb(bits)
  local old = flags
  flags = bor(flags, bits)                       -- atomic_fetch_or(): Lua runs it in one step
  if old ~= 0 then return "merged" end
  local rc = smp_call_function_single_async(ILB, nohz_csd)
  if rc == -EBUSY then busy = busy + 1 end
  return rc
end

-- SCHED_SOFTIRQ on CPU 3 while it is not idle.
local function nohz_idle_balance_not_idle()
  if not fix("ilb_csd_release") then
    flags = 0                                 -- the old cancel: atomic_andnot(NOHZ_KICK_MASK)
  end                                         -- with the fix it reads rq->nohz_idle_balance only
end

local function race(fix_on)
  fix("ilb_csd_release", fix_on)
  flags, served, busy, warned = 0, 0, 0, false
  nohz_csd = csd_init(nohz_csd_func, nil)
  ipi_delay(ILB, us(20))
  local k1 = spawn(1, "kicker1", function() return kick_ilb(BALANCE) end)
  spawn(ILB, "softirq", function() udelay(5); nohz_idle_balance_not_idle() end)
  local k2 = spawn(2, "kicker2", function() udelay(10); return kick_ilb(STATS) end)
  run(ms(1))
  ipi_delay(ILB, 0)
  return k1:result(), k2:result()
end

local r1, r2 = race(true)
assert(r1 == 0 and r2 == "merged", "fix on: " .. tostring(r1) .. " " .. tostring(r2))
assert(busy == 0 and not warned and flags == 0)
assert(served == bor(BALANCE, STATS), "the pending csd serves both kicks")
print(string.format("fix on:  kick 1 -> %d, kick 2 -> %s, served bits %d, -EBUSY %d", r1, r2, served, busy))

r1, r2 = race(false)
assert(r1 == 0 and r2 == -EBUSY, "fix off: " .. tostring(r1) .. " " .. tostring(r2))
assert(busy == 1 and served == STATS, "the cancelled BALANCE bit is gone, the STATS bit rides the queued csd")
print(string.format("fix off: kick 1 -> %d, kick 2 -> %d (-EBUSY, ignored), served bits %d", r1, r2, served))
