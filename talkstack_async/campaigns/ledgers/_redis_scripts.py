"""The Lua scripts the Redis ledger and the campaign's pacing run on the server (each one
atomic). The keys are described in :mod:`talkstack_async.campaigns.ledgers._redis`."""

from __future__ import annotations

__all__ = ["CLAIM", "RENEW", "RESULT", "TAKE", "UNWAIT"]

# KEYS: state, failed, waiting. ARGV: digest, claim JSON, run. Returns nil when this run holds
# the claim (a re-sent claim of its own included), else the holder's claim. Either way the
# request no longer waits.
CLAIM = """
redis.call('HDEL', KEYS[3], ARGV[1])
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local ok, held = pcall(cjson.decode, current)
  if ok and held['s'] == 'attempt' and held['r'] == ARGV[3] then return nil end
  return current
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[1])
return nil
"""

# KEYS: state, failed. ARGV: digest, event, run, sid, error, ms. Applies a result to the claim.
RESULT = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
local held = nil
if current then held = cjson.decode(current) end
local event = ARGV[2]
if event == 'placed' then
  if not held then held = {} end
  held['s'] = 'placed'; held['sid'] = ARGV[4]; held['n'] = nil
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(held))
  redis.call('HDEL', KEYS[2], ARGV[1])
elseif event == 'unknown' then
  if held and held['s'] == 'attempt' then
    held['s'] = 'unknown'; held['e'] = ARGV[5]
    redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(held))
  end
elseif event == 'failed' then
  if held and (held['r'] == ARGV[3] or ARGV[3] == '') and held['s'] ~= 'placed' then
    redis.call('HDEL', KEYS[1], ARGV[1])
    redis.call('HSET', KEYS[2], ARGV[1], ARGV[5])
  elseif not held then
    redis.call('HSET', KEYS[2], ARGV[1], ARGV[5])
  end
elseif event == 'not_attempted' then
  if held and held['r'] == ARGV[3] and held['s'] == 'attempt' then
    redis.call('HDEL', KEYS[1], ARGV[1])
  end
end
return 1
"""

# KEYS: waiting. ARGV: run, digests... Removes the entries of this run among them.
UNWAIT = """
for i = 2, #ARGV do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  if current then
    local ok, entry = pcall(cjson.decode, current)
    if ok and entry['r'] == ARGV[1] then redis.call('HDEL', KEYS[1], ARGV[i]) end
  end
end
return 1
"""

# KEYS: leases. ARGV: limit, lease id, lifetime ms. 1 when taken. (Server time.)
TAKE = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[3]), ARGV[2])
  return 1
end
return 0
"""

# KEYS: leases. ARGV: lifetime ms, lease ids... Pushes each lease's expiry forward; answers,
# lease by lease, 1 when it was still held, 0 when it is gone (it expired and a take swept it
# away: its slot may be another's). A lease past its expiry that no take swept yet is still
# held: nobody could have taken its slot.
RENEW = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local held = {}
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[1]), ARGV[i])
    held[i - 1] = 1
  else
    held[i - 1] = 0
  end
end
return held
"""
