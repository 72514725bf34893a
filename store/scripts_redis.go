package store

import "github.com/redis/go-redis/v9"

// The scripts touch keys they compute (user and room keys named in ARGV), so
// they need one Redis (or a primary with replicas), not Redis Cluster. Each
// script is atomic, which is what makes the checks below race-free against
// edges writing concurrently.

// deadCheck is the guard shared by the cleanup scripts: an edge is dead only
// when its info hash is gone AND its registry score is absent or past. An
// edge that heartbeats again (ZADD) or republishes (info hash) is never wiped,
// even halfway through a chunked cleanup.
//
// KEYS[1] edge info hash, KEYS[2] edges zset; ARGV[1] edge id, ARGV[2] now in
// unix ms.
const deadCheck = `
local function dead()
  if redis.call('EXISTS', KEYS[1]) == 1 then return false end
  local s = redis.call('ZSCORE', KEYS[2], ARGV[1])
  return (not s) or tonumber(s) <= tonumber(ARGV[2])
end
`

// cleanConnsScript removes one chunk of a dead edge's routes: for each
// (connKey, user) pair of its conns hash, the user's route field only if it
// still names this edge (another edge may own that connKey now), then the
// conns field. Returns the routes removed, or -1 if the edge is alive.
//
// KEYS[3] the edge's conns hash; ARGV[3] the user key prefix, ARGV[4...]
// connKey, user pairs.
var cleanConnsScript = redis.NewScript(deadCheck + `
if not dead() then return -1 end
local n = 0
for i = 4, #ARGV, 2 do
  local uk = ARGV[3] .. ARGV[i+1]
  if redis.call('HGET', uk, ARGV[i]) == ARGV[1] then
    redis.call('HDEL', uk, ARGV[i])
    n = n + 1
  end
  redis.call('HDEL', KEYS[3], ARGV[i])
end
return n
`)

// cleanRoomsScript removes one chunk of a dead edge's room counts: its field
// in each room hash, its presence listing of the room, and the room from its
// rooms zset. Returns the rooms removed, or -1 if the edge is alive.
//
// KEYS[3] the edge's rooms zset; ARGV[3] the room key prefix, ARGV[4] the
// edge's presence key prefix, ARGV[5...] rooms.
var cleanRoomsScript = redis.NewScript(deadCheck + `
if not dead() then return -1 end
for i = 5, #ARGV do
  redis.call('HDEL', ARGV[3] .. ARGV[i], ARGV[1])
  redis.call('DEL', ARGV[4] .. ARGV[i])
  redis.call('ZREM', KEYS[3], ARGV[i])
end
return #ARGV - 4
`)

// finishCleanupScript drops a dead edge from the registry once its conns and
// rooms are empty, and publishes its invalidation. Returns 1 when done, 0 when
// entries are left (written after the scan: scan again), -1 if it is alive.
//
// KEYS[3] conns hash, KEYS[4] rooms zset; ARGV[3] invalidation channel,
// ARGV[4] the message.
var finishCleanupScript = redis.NewScript(deadCheck + `
if not dead() then return -1 end
if redis.call('HLEN', KEYS[3]) > 0 or redis.call('ZCARD', KEYS[4]) > 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`)

// disconnectScript removes routes an edge reported closed. A route field is
// deleted only while it still names this edge: a late disconnect must never
// remove the route another edge wrote for the same connKey. The conns field
// is deleted only while it names the same user, for the same reason within
// the edge.
//
// KEYS[1] the edge's conns hash; ARGV[1] edge id, ARGV[2] the user key
// prefix, ARGV[3...] connKey, user pairs.
var disconnectScript = redis.NewScript(`
for i = 3, #ARGV, 2 do
  local uk = ARGV[2] .. ARGV[i+1]
  if redis.call('HGET', uk, ARGV[i]) == ARGV[1] then
    redis.call('HDEL', uk, ARGV[i])
  end
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i+1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return 0
`)
