"""The Lua scripts that make the Redis rate limiter and job ledger atomic.

Each script runs whole on the Redis server, so no other client sees a half-done step. Times
come from Redis' own clock (``TIME``), so machines whose clocks disagree still share one
time line; an end is sent with its age on its process' clock, a duration, never a time.
Scores are written with ``%.6f`` (microseconds): Lua would otherwise format them with 14
significant digits, a tenth of a millisecond at today's epoch.
"""

from __future__ import annotations

__all__ = [
    "ACQUIRE",
    "CLAIM",
    "FINISH",
    "HEARTBEAT",
    "NOT_SENT",
    "REAP",
    "RECORD",
    "RELEASE",
    "SENDING",
]

_PRELUDE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local function stamp(x) return string.format('%.6f', x) end
"""

# Publishes a slow-down this process was told about (ARGV[slow]: seconds, 0 for none).
_PUBLISH_PAUSE = """
local function publish_pause(key, slow)
  local paused = tonumber(redis.call('GET', key) or '0')
  if slow > 0 and now + slow > paused then
    paused = now + slow
    redis.call('SET', key, stamp(paused), 'PX', math.ceil(slow * 1000))
  end
  return paused
end
"""

# Takes back permits granted by a request whose reply was lost (ARGV[arg]: their members,
# space-separated): their callers got an error and sent nothing, so they count for nothing.
_VOID = """
local function void(arg)
  for member in string.gmatch(arg, '%S+') do
    redis.call('ZREM', KEYS[1], member)
    redis.call('ZREM', KEYS[2], member)
  end
end
"""

ACQUIRE = (
    _PRELUDE
    + _PUBLISH_PAUSE
    + _VOID
    + """
-- KEYS: ends (zset member -> when its call certainly reached the server), flight (zset
-- member -> lease end of a call not yet answered), pause (string: paused until).
-- ARGV: modes (one letter per caller waiting, in order: 'f' holds the permit until released,
-- 'e' counts from now), member prefix, lease, slow, ttl, members to void, then count,
-- seconds per window.
-- Grants permits in order while they fit; members are prefix:0, prefix:1, ...
-- Returns {permits granted, seconds to wait before asking for the next}.
local ends, flight = KEYS[1], KEYS[2]
local modes, prefix = ARGV[1], ARGV[2]
local lease, ttl = tonumber(ARGV[3]), tonumber(ARGV[5])
local paused = publish_pause(KEYS[3], tonumber(ARGV[4]))
void(ARGV[6])
-- a call whose lease ran out (its process died) counts as ended when the lease ended
local expired = redis.call('ZRANGEBYSCORE', flight, '-inf', stamp(now), 'WITHSCORES')
for i = 1, #expired, 2 do
  redis.call('ZADD', ends, expired[i + 1], expired[i])
  redis.call('ZREM', flight, expired[i])
end
local flying = redis.call('ZCARD', flight)
local function wait_for_one()
  local wait = paused - now
  for i = 7, #ARGV, 2 do
    local count, seconds = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
    local free = count - flying
    if free <= 0 then
      wait = math.max(wait, seconds)  -- a call in flight ends no earlier than now
    else
      local nth = redis.call('ZREVRANGE', ends, free - 1, free - 1, 'WITHSCORES')
      if nth[2] then wait = math.max(wait, tonumber(nth[2]) + seconds - now) end
    end
  end
  return wait
end
local granted, wait = 0, 0
for n = 1, #modes do
  wait = wait_for_one()
  if wait > 0 then break end
  local member = prefix .. ':' .. (n - 1)
  if string.sub(modes, n, n) == 'f' then
    redis.call('ZADD', flight, stamp(now + lease), member)
    flying = flying + 1
  else  -- never back-dated: the call is sent only after this reply arrives
    redis.call('ZADD', ends, stamp(now), member)
  end
  granted = n
end
local longest = 0
for i = 8, #ARGV, 2 do longest = math.max(longest, tonumber(ARGV[i])) end
redis.call('ZREMRANGEBYSCORE', ends, '-inf', '(' .. stamp(now - longest))
redis.call('EXPIRE', ends, ttl)
redis.call('EXPIRE', flight, ttl)
return {granted, stamp(math.max(wait, 0))}
"""
)

FINISH = (
    _PRELUDE
    + _PUBLISH_PAUSE
    + _VOID
    + """
-- KEYS: ends, flight, pause. ARGV: slow, ttl, members to void, then pairs member, age of
-- calls answered: each
-- counts as ended age seconds ago (its process' clock), when the answer was back; as it
-- was sent before this script runs, never earlier than that (see RedisRateLimiter).
void(ARGV[3])
for i = 4, #ARGV, 2 do
  local age = math.max(tonumber(ARGV[i + 1]), 0)
  redis.call('ZREM', KEYS[2], ARGV[i])
  redis.call('ZADD', KEYS[1], stamp(now - age), ARGV[i])
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
publish_pause(KEYS[3], tonumber(ARGV[1]))
return 1
"""
)

# --- the job ledger ---------------------------------------------------------------------------
# KEYS for every ledger script: claims (hash number -> 'claimed|worker' or 'sending|worker'),
# records (hash number -> final record JSON), counts (hash), workers (hash worker -> alive
# until), input (the input's fingerprint). ARGV[1] is the ledger's expiry in seconds; every
# write pushes it back for all of them.
_LEDGER = """
local claims, records, counts = KEYS[1], KEYS[2], KEYS[3]
local function touch()
  for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], tonumber(ARGV[1])) end
end
"""

# The scripts about one number and this worker's claim on it: ARGV = ttl, number, worker, ...
_CLAIM_OF = (
    _LEDGER
    + """
local number, worker = ARGV[2], ARGV[3]
-- 'claimed' or 'sending' when the number is this worker's claim, else nil
local function mine()
  local claim = redis.call('HGET', claims, number)
  if claim == 'claimed|' .. worker then return 'claimed' end
  if claim == 'sending|' .. worker then return 'sending' end
  return nil
end
-- this worker's claim, in phase `from`, is now in phase `to` (nil: the claim is gone)
local function move(from, to)
  if to then
    redis.call('HSET', claims, number, to .. '|' .. worker)
    redis.call('HINCRBY', counts, to, 1)
  else
    redis.call('HDEL', claims, number)
  end
  redis.call('HINCRBY', counts, from, -1)
  touch()
end
"""
)

CLAIM = (
    _CLAIM_OF
    + """
-- 1: claimed by this worker; 0: someone has it, or it has a final record other than
-- "failed, certainly not sent" (such a number may be sent again).
if redis.call('HEXISTS', claims, number) == 1 then return 0 end
local final = redis.call('HGET', records, number)
if final then
  local old = cjson.decode(final)
  if old.status ~= 'failed' or old.sent ~= 'no' then return 0 end
  redis.call('HDEL', records, number)
  redis.call('HINCRBY', counts, 'status:failed', -1)
end
redis.call('HSET', claims, number, 'claimed|' .. worker)
redis.call('HINCRBY', counts, 'claimed', 1)
touch()
return 1
"""
)

SENDING = (
    _CLAIM_OF
    + """
-- 1: marked as possibly written; 0: not this worker's claim any more.
if mine() ~= 'claimed' then return 0 end
move('claimed', 'sending')
return 1
"""
)

NOT_SENT = (
    _CLAIM_OF
    + """
-- The attempt after SENDING was refused, nothing written: the claim goes back to 'claimed'
-- and stays this worker's, never free in between (RELEASE then CLAIM would let another
-- worker take it). 1: claimed by this worker; 0: not its claim any more.
local phase = mine()
if phase == 'claimed' then return 1 end
if phase ~= 'sending' then return 0 end
move('sending', 'claimed')
return 1
"""
)

RECORD = (
    _CLAIM_OF
    + """
-- ARGV[4], ARGV[5]: status, record JSON. 1: recorded; 0: not this worker's claim.
local phase = mine()
if not phase then return 0 end
redis.call('HSET', records, number, ARGV[5])
redis.call('HINCRBY', counts, 'status:' .. ARGV[4], 1)
move(phase, nil)
return 1
"""
)

RELEASE = (
    _CLAIM_OF
    + """
-- 1: released (another worker may claim it); 0: not this worker's claim.
local phase = mine()
if not phase then return 0 end
move(phase, nil)
return 1
"""
)

HEARTBEAT = (
    _PRELUDE
    + _LEDGER
    + """
-- ARGV: ttl, worker, seconds alive; seconds 0 removes the worker (a clean exit).
if tonumber(ARGV[3]) > 0 then
  redis.call('HSET', KEYS[4], ARGV[2], stamp(now + tonumber(ARGV[3])))
else
  redis.call('HDEL', KEYS[4], ARGV[2])
end
touch()
return 1
"""
)

REAP = (
    _PRELUDE
    + _LEDGER
    + """
-- ARGV: ttl. Claims of workers whose heartbeat ran out: never written ->
-- released; possibly written -> recorded unknown, so never sent again. Returns {released, unknown}.
local released, unknown = 0, 0
local all = redis.call('HGETALL', claims)
for i = 1, #all, 2 do
  local number, claim = all[i], all[i + 1]
  local phase, worker = string.match(claim, '^([a-z]+)|(.*)$')
  local alive = tonumber(redis.call('HGET', KEYS[4], worker) or '0')
  if alive < now then
    redis.call('HDEL', claims, number)
    redis.call('HINCRBY', counts, phase, -1)
    if phase == 'sending' then
      local record = {status = 'unknown', sent = 'maybe', worker = worker,
                      detail = 'the worker stopped after it may have sent the request'}
      redis.call('HSET', records, number, cjson.encode(record))
      redis.call('HINCRBY', counts, 'status:unknown', 1)
      unknown = unknown + 1
    else
      released = released + 1
    end
  end
end
touch()
return {released, unknown}
"""
)
