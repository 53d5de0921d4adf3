//! Lua scripts: each session operation is one atomic round trip.
//!
//! Every key an operation touches starts with the organization's prefix `kw:{org}:`, so they all
//! share one Redis Cluster slot. Each session script takes that prefix as `KEYS[1]`: a cluster
//! routes the call to the node that owns the organization's slot, and the node checks the slot is
//! its own. Layout under that prefix:
//! `epoch` (org epoch), `me:<member>` (member epoch), `ke` (keyless epoch), `s:<key>` (session record, by
//! [`keyward_domain::session::TokenHash::key`]),
//! `live` (zset of current-epoch sessions by deadline), `mh` (hash: each member's session keys, back to back),
//! `dead:<epoch>` (sessions of a revoked epoch awaiting deletion), `c:<id>` (ceremony state), `rl:<bucket>`
//! (a ceremony rate-limit window),
//! `spv` and `wpv` (the step-up and WebAuthn policy versions in force).
//!
//! Nothing is kept forever: every key has a TTL. Indexes live as long as their longest-lived
//! session and shed expired entries as sessions are created; an epoch key lives as long as any
//! session stamped with its value could (so an epoch never falls back to a value old sessions
//! still carry).

/// Shared helpers. A session record is one string (see `codec`): `2|m|oe|me|ke|ls|it|ab|k|<tail>`,
/// the fields the scripts read first and the rest (`tail`) kept as it is. [`load`] also reads the
/// hash a session was stored as before (version 1), so every script works on both.
const LIVE_FN: &str = r"
local RECORD = '^2|([^|]*)|(%d*)|(%d*)|(%d*)|(%d*)|(%d*)|(%d*)|([^|]*)|(.*)$'
local TAIL = {'r', 'st', 'mt', 'c', 'mv', 'g', 'u', 'gp', 'ip', 'dv', 'kf', 'gr'}
local function fields(list)
  local t = {}
  for i = 1, #list, 2 do t[list[i]] = list[i + 1] end
  return t
end
local function load(key)
  local raw = redis.pcall('GET', key)
  if type(raw) == 'string' then
    local m, oe, me, ke, ls, it, ab, k, tail = string.match(raw, RECORD)
    if not m then return nil end
    return {oe = oe, me = me, ke = ke, ls = ls, it = it, ab = ab, m = m, k = k, tail = tail, raw = raw}
  end
  if type(raw) ~= 'table' then return nil end
  local list = redis.call('HGETALL', key)
  if #list == 0 then return nil end
  local s = fields(list)
  if s.m == nil then return nil end
  local tail = {}
  for i, name in ipairs(TAIL) do
    tail[i] = string.gsub(s[name] or '', '[%%|]', {['%'] = '%25', ['|'] = '%7C'})
  end
  s.ke = s.ke or '0'
  s.tail = table.concat(tail, '|')
  return s
end
local function pack(s)
  return table.concat({'2', s.m, s.oe, s.me, s.ke, s.ls, s.it, s.ab, s.k, s.tail}, '|')
end
local function deadline(s)
  return math.min(tonumber(s.ls) + tonumber(s.it) * 1000, tonumber(s.ab))
end
local function save(key, s, now)
  local dl = deadline(s)
  s.raw = pack(s)
  redis.call('SET', key, s.raw, 'PX', math.max(dl - now, 1))
  return dl
end
local function restamp(key, s)
  redis.call('SET', key, pack(s), 'KEEPTTL')
end
local function live(pfx, s, now)
  if s == nil then return false end
  local oe = redis.call('GET', pfx .. 'epoch') or '0'
  local me = redis.call('GET', pfx .. 'me:' .. s.m) or '0'
  if s.k == '' and s.ke ~= (redis.call('GET', pfx .. 'ke') or '0') then return false end
  return s.oe == oe and s.me == me and now < deadline(s)
end
local function keep_for(key, ms)
  local ttl = redis.call('PTTL', key)
  if ttl == -1 or (ttl >= 0 and ttl < ms) then redis.call('PEXPIRE', key, ms) end
end
local KEY = 22
local MAX_PER_MEMBER = 100
-- Deletes a session's record and its `live` entry; `drop` also takes it off its member's keys.
local function forget(pfx, h)
  redis.call('DEL', pfx .. 's:' .. h)
  redis.call('ZREM', pfx .. 'live', h)
end
local function split(packed)
  local list = {}
  for i = 1, #packed, KEY do list[#list + 1] = string.sub(packed, i, i + KEY - 1) end
  return list
end
local function set_keys(pfx, m, list)
  if #list == 0 then
    redis.call('HDEL', pfx .. 'mh', m)
  else
    redis.call('HSET', pfx .. 'mh', m, table.concat(list))
  end
end
local function without(list, h)
  local k, out = string.sub(h, 1, KEY), {}
  for _, other in ipairs(list) do
    if other ~= k then out[#out + 1] = other end
  end
  return out
end
-- A member's session keys. The `ml:<member>` zset layout 2 kept is folded in and deleted the first
-- time the member is read; a layout 1 entry (a full hash) moves its session to its key on the way.
local function keys_of(pfx, m, now)
  local list = split(redis.call('HGET', pfx .. 'mh', m) or '')
  local legacy = pfx .. 'ml:' .. m
  local legacy_ttl = redis.call('PTTL', legacy)
  if legacy_ttl == -2 then return list end
  local seen = {}
  for _, k in ipairs(list) do seen[k] = true end
  for _, h in ipairs(redis.call('ZRANGE', legacy, 0, -1)) do
    local k = string.sub(h, 1, KEY)
    if k ~= h then
      local s = load(pfx .. 's:' .. h)
      forget(pfx, h)
      if live(pfx, s, now) then redis.call('ZADD', pfx .. 'live', save(pfx .. 's:' .. k, s, now), k) end
    end
    if not seen[k] then
      seen[k] = true
      list[#list + 1] = k
    end
  end
  redis.call('DEL', legacy)
  set_keys(pfx, m, list)
  if legacy_ttl > 0 then keep_for(pfx .. 'mh', legacy_ttl) end
  return list
end
-- Ends the member's sessions that are no longer live (expired, or of a revoked epoch) and drops
-- them from the member's keys; returns the live ones' keys and sessions, oldest first. Keys whose
-- session a purge deleted go here.
local function prune(pfx, m, now)
  local list = keys_of(pfx, m, now)
  local kept, sessions = {}, {}
  for _, k in ipairs(list) do
    local s = load(pfx .. 's:' .. k)
    if live(pfx, s, now) then
      kept[#kept + 1] = k
      sessions[#sessions + 1] = s
    else
      forget(pfx, k)
    end
  end
  if #kept ~= #list then set_keys(pfx, m, kept) end
  return kept, sessions
end
local function drop(pfx, h, m, now)
  forget(pfx, h)
  if m then
    local list = keys_of(pfx, m, now)
    local kept = without(list, h)
    if #kept ~= #list then set_keys(pfx, m, kept) end
  end
end
local function index(pfx, h, m, dl, abs_ttl, now)
  redis.call('ZADD', pfx .. 'live', dl, h)
  local list = keys_of(pfx, m, now)
  if #without(list, h) == #list then
    list[#list + 1] = h
    set_keys(pfx, m, list)
  end
  keep_for(pfx .. 'live', abs_ttl)
  keep_for(pfx .. 'mh', abs_ttl)
end
";

/// KEYS: the organization's prefix. ARGV: key, member, now, ls, it, ab, k, tail (the record without epochs). Returns
/// {oe, me, ke, how many of the member's oldest sessions ended to stay within MAX_PER_MEMBER}.
pub const CREATE: &str = r"
local pfx, h, m, now = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local s = {
  oe = redis.call('GET', pfx .. 'epoch') or '0',
  me = redis.call('GET', pfx .. 'me:' .. m) or '0',
  ke = redis.call('GET', pfx .. 'ke') or '0',
  ls = ARGV[4], it = ARGV[5], ab = ARGV[6], m = m, k = ARGV[7], tail = ARGV[8],
}
local dl = save(pfx .. 's:' .. h, s, now)
local abs_ttl = math.max(tonumber(s.ab) - now, 1)
redis.call('ZREMRANGEBYSCORE', pfx .. 'live', '-inf', now)
-- A member keeps at most MAX_PER_MEMBER sessions: the oldest end first. So a member's keys stay
-- short, and every operation on them stays cheap whatever a client does.
local kept = prune(pfx, m, now)
local evicted = 0
if #kept >= MAX_PER_MEMBER then
  evicted = #kept - MAX_PER_MEMBER + 1
  for i = 1, evicted do forget(pfx, kept[i]) end
  set_keys(pfx, m, {unpack(kept, evicted + 1)})
end
-- Two other members' keys per login, chosen at random, so the keys of members who never come
-- back (or whose sessions a flush ended) shrink while anyone logs in, and expire with `mh` after.
for _, other in ipairs(redis.call('HRANDFIELD', pfx .. 'mh', 2)) do
  if other ~= m then prune(pfx, other, now) end
end
index(pfx, h, m, dl, abs_ttl, now)
keep_for(pfx .. 'epoch', abs_ttl)
keep_for(pfx .. 'me:' .. m, abs_ttl)
keep_for(pfx .. 'ke', abs_ttl)
return {s.oe, s.me, s.ke, evicted}
";

/// KEYS: the organization's prefix. ARGV: key, full hash, now. Returns {record, step-up policy version or '', WebAuthn
/// policy version or ''}, or
/// false when the session is not live. A session still stored as a hash under its full hash (version 1) moves to
/// its key as a record here, on its first request after the upgrade.
pub const LOOKUP: &str = r"
local pfx, h, full, now = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local at = h
local s = load(pfx .. 's:' .. h)
if s == nil and full ~= h then
  s = load(pfx .. 's:' .. full)
  at = full
end
if s == nil then return false end
if not live(pfx, s, now) then
  drop(pfx, at, s.m, now)
  return false
end
if at ~= h then
  drop(pfx, at, s.m, now)
  s.ls = ARGV[3]
  local dl = save(pfx .. 's:' .. h, s, now)
  index(pfx, h, s.m, dl, math.max(tonumber(s.ab) - now, 1), now)
elseif now - tonumber(s.ls) >= tonumber(s.it) * 50 then
  s.ls = ARGV[3]
  local dl = save(pfx .. 's:' .. h, s, now)
  redis.call('ZADD', pfx .. 'live', 'XX', dl, h)
end
local v = redis.call('MGET', pfx .. 'spv', pfx .. 'wpv')
return {s.raw or pack(s), v[1] or '', v[2] or ''}
";

/// KEYS: the organization's prefix. ARGV: old key, new key, now, ls, it, ab, k, tail (the new record without epochs).
/// Returns 1 when replaced, 0 when the old session is no longer live.
pub const REPLACE: &str = r"
local pfx, old, new, now = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local s = load(pfx .. 's:' .. old)
if not live(pfx, s, now) then return 0 end
drop(pfx, old, s.m, now)
local n = {oe = s.oe, me = s.me, ke = s.ke, ls = ARGV[4], it = ARGV[5], ab = ARGV[6], m = s.m, k = ARGV[7], tail = ARGV[8]}
local dl = save(pfx .. 's:' .. new, n, now)
index(pfx, new, n.m, dl, math.max(tonumber(n.ab) - now, 1), now)
return 1
";

/// KEYS: the organization's prefix. ARGV: hash, now. Returns 1 when a live session ended, else 0.
pub const REVOKE: &str = r"
local pfx, h, now = KEYS[1], ARGV[1], tonumber(ARGV[2])
local s = load(pfx .. 's:' .. h)
local was = live(pfx, s, now)
drop(pfx, h, s and s.m, now)
if was then return 1 else return 0 end
";

/// KEYS: the organization's prefix. ARGV: member, keep hash (or ''), now, epoch retention ms. Bumps the member epoch,
/// re-stamps `keep`, deletes the member's other sessions. Returns how many live sessions ended.
pub const REVOKE_MEMBER: &str = r"
local pfx, m, keep, now = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local hashes = keys_of(pfx, m, now)
local states = {}
for _, h in ipairs(hashes) do
  local s = load(pfx .. 's:' .. h)
  if live(pfx, s, now) then states[h] = s end
end
local epoch = redis.call('INCR', pfx .. 'me:' .. m)
keep_for(pfx .. 'me:' .. m, tonumber(ARGV[4]))
local count, kept = 0, {}
for _, h in ipairs(hashes) do
  if h == keep and states[h] then
    states[h].me = tostring(epoch)
    restamp(pfx .. 's:' .. h, states[h])
    kept[1] = h
  else
    if states[h] then count = count + 1 end
    forget(pfx, h)
  end
end
set_keys(pfx, m, kept)
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
  local s = load(pfx .. 's:' .. keep)
  if s then
    s.oe = tostring(epoch)
    restamp(pfx .. 's:' .. keep, s)
  end
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
/// Returns how many remain. The members' keys in `mh` are left to the next read of each member
/// (see `prune`): a purge batch stays one delete per session, so requests queued behind it wait
/// little.
pub const PURGE_DEAD: &str = r"
local pfx, dead_key, batch = KEYS[1], ARGV[1], tonumber(ARGV[2])
local popped = redis.call('ZPOPMIN', dead_key, batch)
local keys = {}
for i = 1, #popped, 2 do keys[#keys + 1] = pfx .. 's:' .. popped[i] end
if #keys > 0 then redis.call('DEL', unpack(keys)) end
return redis.call('ZCARD', dead_key)
";

/// KEYS: the organization's prefix. ARGV: now, members... Returns each member's live session count.
pub const LIVE_OF: &str = r"
local pfx, now = KEYS[1], tonumber(ARGV[1])
local counts = {}
for i = 2, #ARGV do
  counts[#counts + 1] = #prune(pfx, ARGV[i], now)
end
return counts
";

/// KEYS: the organization's prefix. ARGV: member, now. Returns each live session of the member as {key, record}.
pub const SESSIONS_OF: &str = r"
local pfx, m, now = KEYS[1], ARGV[1], tonumber(ARGV[2])
local out = {}
local keys, sessions = prune(pfx, m, now)
for i, h in ipairs(keys) do
  out[#out + 1] = {h, sessions[i].raw or pack(sessions[i])}
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
  local s = load(pfx .. 's:' .. h)
  if s and s.k == '' and live(pfx, s, now) then keyless = keyless + 1 end
end
return {keyless, #hashes}
";

/// KEYS: the organization's prefix. ARGV: ceremony ID, then (bucket, max, window ms) per limit. Counts an attempt in
/// each bucket (`rl:<bucket>`, a fixed window) up to the first one exceeded; unless one is, takes the ceremony
/// (`c:<id>`) out. Returns {0, ms until the exceeded window resets} or {1, the ceremony or ''}.
pub const TAKE_COUNTED: &str = r"
local pfx = KEYS[1]
for i = 2, #ARGV, 3 do
  local key, max, window = pfx .. 'rl:' .. ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('PEXPIRE', key, window) end
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, window)
    ttl = window
  end
  if count > max then return {0, ttl} end
end
return {1, redis.call('GETDEL', pfx .. 'c:' .. ARGV[1]) or ''}
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

/// The lookup's common case, a live record that needs no touch, without the shared helpers:
/// defining them costs a closure each on every call, more than the check itself. Any other case
/// falls through to [`LOOKUP`] with the helpers (see [`lookup`]).
const LOOKUP_FAST: &str = r"
local raw = redis.call('GET', KEYS[1] .. 's:' .. ARGV[1])
if type(raw) == 'string' then
  local m, oe, me, ke, ls, it, ab, k = string.match(raw, '^2|([^|]*)|(%d*)|(%d*)|(%d*)|(%d*)|(%d*)|(%d*)|([^|]*)|')
  if m then
    local pfx, now, idle = KEYS[1], tonumber(ARGV[3]), tonumber(it)
    local e = redis.call('MGET', pfx .. 'epoch', pfx .. 'me:' .. m, pfx .. 'ke', pfx .. 'spv', pfx .. 'wpv')
    local fresh = now - tonumber(ls) < idle * 50
    local alive = now < math.min(tonumber(ls) + idle * 1000, tonumber(ab))
    local epochs = oe == (e[1] or '0') and me == (e[2] or '0') and (k ~= '' or ke == (e[3] or '0'))
    if fresh and alive and epochs then return {raw, e[4] or '', e[5] or ''} end
  end
end
";

/// The session lookup script: [`LOOKUP_FAST`], then [`LOOKUP`] with the helpers for every other case.
pub fn lookup() -> String {
    format!("{LOOKUP_FAST}\nlocal function slow()\n{LIVE_FN}\n{LOOKUP}\nend\nreturn slow()\n")
}

/// Prepends the shared helpers to a script body.
pub fn with_helpers(body: &str) -> String {
    format!("{LIVE_FN}\n{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_keys_are_split_at_the_length_of_a_session_key() {
        let declared = format!("local KEY = {}\n", keyward_domain::session::TokenHash::KEY_CHARS);
        assert!(LIVE_FN.contains(&declared), "the scripts' KEY must be TokenHash::KEY_CHARS");
        let cap = format!("local MAX_PER_MEMBER = {}\n", keyward_domain::session::MAX_SESSIONS_PER_MEMBER);
        assert!(LIVE_FN.contains(&cap), "the scripts' cap must be MAX_SESSIONS_PER_MEMBER");
    }
}
