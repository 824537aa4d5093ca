"""The Lua scripts of the presence layer (gateway.presence): each touches one key, or the
keys of one user, which share a slot by their ``{user_id}`` hash tag, so each runs on the one
shard that owns it on a Redis Cluster."""

# KEYS the user's lease set, announce-room set and joined-room set (one slot: see
# Presence._leases_key); ARGV conn, now, expiry, the cap on live leases (0: none), the number of
# rooms to announce in, those rooms, then every room of the user. Returns the live leases
# before ours, or -1 (and takes none) at the cap; a user coming online (none before) gets
# their room sets written, for the announcement of their going offline.
CONNECT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local before = redis.call('ZCARD', KEYS[1])
local cap = tonumber(ARGV[4])
if cap > 0 and before >= cap then
  return -1
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[3] + 60000)
if before == 0 then
  redis.call('DEL', KEYS[2], KEYS[3])
  local last = 5 + tonumber(ARGV[5])
  for i = 6, last, 1000 do
    redis.call('SADD', KEYS[2], unpack(ARGV, i, math.min(i + 999, last)))
  end
  for i = last + 1, #ARGV, 1000 do
    redis.call('SADD', KEYS[3], unpack(ARGV, i, math.min(i + 999, #ARGV)))
  end
  redis.call('EXPIRE', KEYS[2], 86400)
  redis.call('EXPIRE', KEYS[3], 86400)
end
return before
"""

# KEYS the user's lease set, announce-room set and joined-room set; ARGV conn, now. If that
# was their last lease, {rooms to announce the user offline in, every room of theirs}; nil
# if not, or if someone else removed ours.
DROP = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
  return false
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) > 0 then
  return false
end
return {redis.call('SMEMBERS', KEYS[2]), redis.call('SMEMBERS', KEYS[3])}
"""

# KEYS processes; ARGV process, now, until. 1 if the process had expired and is ours now.
CLAIM = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
"""
