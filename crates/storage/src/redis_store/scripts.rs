//! Lua scripts: each session operation is one atomic round trip.
//!
//! Every key an operation touches starts with the organization's prefix `kw:{org}:`, so they all
//! share one Redis Cluster slot. Each session script takes that prefix as `KEYS[1]`: a cluster
//! routes the call to the node that owns the organization's slot, and the node checks the slot is
//! its own. Layout under that prefix:
//! `epoch` (org epoch), `me:<member>` (member epoch), `ke` (keyless epoch), `s:<hash>` (session hash),
//! `live` (zset of current-epoch sessions by deadline), `ml:<member>` (zset of a member's sessions),
//! `dead:<epoch>` (sessions of a revoked epoch awaiting deletion), `c:<id>` (ceremony state),
//! `spv` (the step-up policy version in force).
//!
//! Nothing is kept forever: every key has a TTL. Indexes live as long as their longest-lived
//! session and shed expired entries as sessions are created; an epoch key lives as long as any
//! session stamped with its value could (so an epoch never falls back to a value old sessions
//! still carry).

/// Shared helper: is the session hash `s` (a table) live at `now` under the current epochs?
const LIVE_FN: &str = r"
local function fields(list)
  local t = {}
  for i = 1, #list, 2 do t[list[i]] = list[i + 1] end
  return t
end
local function deadline(s)
  return math.min(tonumber(s.ls) + tonumber(s.it) * 1000, tonumber(s.ab))
end
local function live(pfx, s, now)
  if s.m == nil then return false end
  local oe = redis.call('GET', pfx .. 'epoch') or '0'
  local me = redis.call('GET', pfx .. 'me:' .. s.m) or '0'
  if s.k == '' and (s.ke or '0') ~= (redis.call('GET', pfx .. 'ke') or '0') then return false end
  return s.oe == oe and s.me == me and now < deadline(s)
end
local function keep_for(key, ms)
  local ttl = redis.call('PTTL', key)
  if ttl == -1 or (ttl >= 0 and ttl < ms) then redis.call('PEXPIRE', key, ms) end
end
local function drop(pfx, h, m)
  redis.call('DEL', pfx .. 's:' .. h)
  redis.call('ZREM', pfx .. 'live', h)
  if m then redis.call('ZREM', pfx .. 'ml:' .. m, h) end
end
local function index(pfx, h, m, dl, abs_ttl)
  redis.call('ZADD', pfx .. 'live', dl, h)
  redis.call('ZADD', pfx .. 'ml:' .. m, dl, h)
  keep_for(pfx .. 'live', abs_ttl)
  keep_for(pfx .. 'ml:' .. m, abs_ttl)
end
";

/// KEYS: the organization's prefix. ARGV: hash, member, now, then field/value pairs (without epochs). Returns {oe, me, ke}.
pub const CREATE: &str = r"
local pfx, h, m, now = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local oe = redis.call('GET', pfx .. 'epoch') or '0'
local me = redis.call('GET', pfx .. 'me:' .. m) or '0'
local ke = redis.call('GET', pfx .. 'ke') or '0'
local sk = pfx .. 's:' .. h
redis.call('HSET', sk, 'oe', oe, 'me', me, 'ke', ke, unpack(ARGV, 4))
local s = fields(redis.call('HGETALL', sk))
local dl = deadline(s)
local abs_ttl = math.max(tonumber(s.ab) - now, 1)
redis.call('PEXPIRE', sk, math.max(dl - now, 1))
redis.call('ZREMRANGEBYSCORE', pfx .. 'ml:' .. m, '-inf', now)
redis.call('ZREMRANGEBYSCORE', pfx .. 'live', '-inf', now)
index(pfx, h, m, dl, abs_ttl)
keep_for(pfx .. 'epoch', abs_ttl)
keep_for(pfx .. 'me:' .. m, abs_ttl)
keep_for(pfx .. 'ke', abs_ttl)
return {oe, me, ke}
";

/// KEYS: the organization's prefix. ARGV: hash, now. Returns the session's field list, plus `pv` (the organization's
/// step-up policy version, when known), or false when it is not live.
pub const LOOKUP: &str = r"
local pfx, h, now = KEYS[1], ARGV[1], tonumber(ARGV[2])
local sk = pfx .. 's:' .. h
local list = redis.call('HGETALL', sk)
if #list == 0 then return false end
local s = fields(list)
if not live(pfx, s, now) then
  drop(pfx, h, s.m)
  return false
end
local idle = tonumber(s.it) * 1000
if now - tonumber(s.ls) >= idle / 20 then
  redis.call('HSET', sk, 'ls', ARGV[2])
  s.ls = ARGV[2]
  local dl = deadline(s)
  redis.call('PEXPIRE', sk, math.max(dl - now, 1))
  redis.call('ZADD', pfx .. 'live', 'XX', dl, h)
  redis.call('ZADD', pfx .. 'ml:' .. s.m, 'XX', dl, h)
  for i = 1, #list, 2 do
    if list[i] == 'ls' then list[i + 1] = ARGV[2] end
  end
end
local pv = redis.call('GET', pfx .. 'spv')
if pv then
  list[#list + 1] = 'pv'
  list[#list + 1] = pv
end
return list
";

/// KEYS: the organization's prefix. ARGV: old hash, new hash, now, then the new field/value pairs (without epochs).
/// Returns 1 when replaced, 0 when the old session is no longer live.
pub const REPLACE: &str = r"
local pfx, old, new, now = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local s = fields(redis.call('HGETALL', pfx .. 's:' .. old))
if not live(pfx, s, now) then return 0 end
drop(pfx, old, s.m)
local sk = pfx .. 's:' .. new
redis.call('HSET', sk, 'oe', s.oe, 'me', s.me, 'ke', s.ke or '0', unpack(ARGV, 4))
local n = fields(redis.call('HGETALL', sk))
local dl = deadline(n)
redis.call('PEXPIRE', sk, math.max(dl - now, 1))
index(pfx, new, n.m, dl, math.max(tonumber(n.ab) - now, 1))
return 1
";

/// KEYS: the organization's prefix. ARGV: hash, now. Returns 1 when a live session ended, else 0.
pub const REVOKE: &str = r"
local pfx, h, now = KEYS[1], ARGV[1], tonumber(ARGV[2])
local s = fields(redis.call('HGETALL', pfx .. 's:' .. h))
local was = live(pfx, s, now)
drop(pfx, h, s.m)
if was then return 1 else return 0 end
";

/// KEYS: the organization's prefix. ARGV: member, keep hash (or ''), now, epoch retention ms. Bumps the member epoch,
/// re-stamps `keep`, deletes the member's other sessions. Returns how many live sessions ended.
pub const REVOKE_MEMBER: &str = r"
local pfx, m, keep, now = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local hashes = redis.call('ZRANGE', pfx .. 'ml:' .. m, 0, -1)
local states = {}
for _, h in ipairs(hashes) do
  local s = fields(redis.call('HGETALL', pfx .. 's:' .. h))
  states[h] = live(pfx, s, now)
end
local epoch = redis.call('INCR', pfx .. 'me:' .. m)
keep_for(pfx .. 'me:' .. m, tonumber(ARGV[4]))
local count = 0
for _, h in ipairs(hashes) do
  if h == keep and states[h] then
    redis.call('HSET', pfx .. 's:' .. h, 'me', epoch)
  else
    if states[h] then count = count + 1 end
    drop(pfx, h, m)
  end
end
return count
";

/// KEYS: the organization's prefix. ARGV: keep hash (or ''), now, epoch retention ms. Bumps the org epoch (every other session dies at once),
/// re-stamps `keep`, and moves the old live index aside for deletion. Returns {count, dead key}.
pub const REVOKE_ORG: &str = r"
local pfx, keep, now = KEYS[1], ARGV[1], tonumber(ARGV[2])
local live_key = pfx .. 'live'
local count = redis.call('ZCOUNT', live_key, '(' .. ARGV[2], '+inf')
local keep_score = false
if keep ~= '' then
  local score = redis.call('ZSCORE', live_key, keep)
  if score and tonumber(score) > now then keep_score = score end
end
local epoch = redis.call('INCR', pfx .. 'epoch')
keep_for(pfx .. 'epoch', tonumber(ARGV[3]))
local dead_key = pfx .. 'dead:' .. (epoch - 1)
if redis.call('EXISTS', live_key) == 1 then
  redis.call('RENAME', live_key, dead_key)
end
if keep_score then
  count = count - 1
  redis.call('HSET', pfx .. 's:' .. keep, 'oe', epoch)
  redis.call('ZREM', dead_key, keep)
  redis.call('ZADD', live_key, keep_score, keep)
end
return {count, dead_key}
";

/// KEYS: the organization's prefix. ARGV: epoch retention ms. Bumps the keyless epoch: every session no key confirmed
/// ends at once (the scripts check it only for sessions without a key). Returns the new epoch.
pub const REVOKE_KEYLESS: &str = r"
local epoch = redis.call('INCR', KEYS[1] .. 'ke')
keep_for(KEYS[1] .. 'ke', tonumber(ARGV[1]))
return epoch
";

/// KEYS: the organization's prefix. ARGV: dead key, batch size. Deletes up to a batch of a revoked epoch's sessions.
/// Returns how many remain.
pub const PURGE_DEAD: &str = r"
local pfx, dead_key, batch = KEYS[1], ARGV[1], tonumber(ARGV[2])
local popped = redis.call('ZPOPMIN', dead_key, batch)
for i = 1, #popped, 2 do
  local h = popped[i]
  local m = redis.call('HGET', pfx .. 's:' .. h, 'm')
  redis.call('DEL', pfx .. 's:' .. h)
  if m then redis.call('ZREM', pfx .. 'ml:' .. m, h) end
end
return redis.call('ZCARD', dead_key)
";

/// KEYS: the organization's prefix. ARGV: now, members... Returns each member's live session count.
pub const LIVE_OF: &str = r"
local pfx, now = KEYS[1], tonumber(ARGV[1])
local counts = {}
for i = 2, #ARGV do
  local n = 0
  local hashes = redis.call('ZRANGE', pfx .. 'ml:' .. ARGV[i], '(' .. ARGV[1], '+inf', 'BYSCORE')
  for _, h in ipairs(hashes) do
    if live(pfx, fields(redis.call('HGETALL', pfx .. 's:' .. h)), now) then n = n + 1 end
  end
  counts[#counts + 1] = n
end
return counts
";

/// KEYS: the organization's prefix. ARGV: member, now. Returns each live session of the member as {hash, fields...}.
pub const SESSIONS_OF: &str = r"
local pfx, m, now = KEYS[1], ARGV[1], tonumber(ARGV[2])
local out = {}
for _, h in ipairs(redis.call('ZRANGE', pfx .. 'ml:' .. m, '(' .. ARGV[2], '+inf', 'BYSCORE')) do
  local list = redis.call('HGETALL', pfx .. 's:' .. h)
  if #list > 0 and live(pfx, fields(list), now) then
    table.insert(list, 1, h)
    out[#out + 1] = list
  end
end
return out
";

/// KEYS: the organization's prefix. ARGV: now, offset, count. Counts the keyless live sessions in one window of the
/// organization's index (so no call blocks Redis for long). Returns {keyless, entries read}.
pub const COUNT_KEYLESS: &str = r"
local pfx, now = KEYS[1], tonumber(ARGV[1])
local hashes = redis.call('ZRANGE', pfx .. 'live', '(' .. ARGV[1], '+inf', 'BYSCORE', 'LIMIT', ARGV[2], ARGV[3])
local keyless = 0
for _, h in ipairs(hashes) do
  local s = fields(redis.call('HGETALL', pfx .. 's:' .. h))
  if s.k == '' and live(pfx, s, now) then keyless = keyless + 1 end
end
return {keyless, #hashes}
";

/// KEYS: the bucket; ARGV: window in ms. A fixed window: returns {count, ms until it resets}.
pub const RATE_HIT: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
";

/// KEYS: the bucket. Takes one attempt back (a success), never below zero; keeps the window.
pub const RATE_REFUND: &str = r"
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then redis.call('DECR', KEYS[1]) end
return 0
";

/// Prepends the shared helpers to a script body.
pub fn with_helpers(body: &str) -> String {
    format!("{LIVE_FN}\n{body}")
}
