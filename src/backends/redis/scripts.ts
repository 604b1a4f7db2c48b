/**
 * The Lua scripts of the Redis backend. Every state change that must be atomic is one script call:
 * enqueue of a batch, claim of a batch, settle of a batch, heartbeat of a batch, cancel, retry,
 * purge (one bounded batch per call), plus the read-side scripts that sweep expired records out of
 * the indexes before they count or list.
 *
 * Key layout (all keys of one store share the hash tag `{prefix}`, so they live in one hash slot
 * and every script runs on one node of a Redis Cluster):
 *
 * - `sitq:{p}:t:<id>`        hash, one per task (the record's fields, plus `seq` and `rm`;
 *                            `failureTimes` is "t1,t2,..." and absent when empty); the
 *                            lease fields are only meaningful while the status is `in_progress`
 *                            (they are left in place, not deleted, when a task leaves it)
 * - `sitq:{p}:seq`           INCR counter: the enqueue sequence
 * - `sitq:{p}:dedup`         hash dedup key -> id of the pending/running task holding it
 * - `sitq:{p}:counts`        hash "<queue>\n<status>" -> count (stats)
 * - `sitq:{p}:queues`        set of queue names
 * - `sitq:{p}:all`           zset seq -> id (list order)
 * - `sitq:{p}:st:<status>`   zset seq -> id of finished tasks (success, failed, cancelled): list by
 *                            status, purge; live tasks are listed through `all`
 * - `sitq:{p}:d:<queue>`     zset runAt -> id: pending tasks not yet due when scheduled
 * - `sitq:{p}:r:<queue>`     zset -priority -> rm: due pending tasks; `rm` is
 *                            `%015d(runAt) %016d(seq) id`, so members of one priority sort by
 *                            runAt, then enqueue sequence (ZSET ties order members bytewise)
 * - `sitq:{p}:f:<queue>`     zset leaseUntil -> id: running tasks (lease recovery, nextWakeAt)
 * - `sitq:{p}:exp`           zset expiry (Redis server ms) -> "<status>\n<queue>\n<id>": finished
 *                            tasks whose hash carries a PEXPIRE; swept from the indexes when due
 * - channel `sitq:{p}:events` pub/sub wake-ups: "<instance>\n<kind>\n<body>"
 *
 * `now` is always passed in from Effect's `Clock` (so `TestClock` drives delays and leases). Only
 * retention uses the server's `TIME`, because Redis expires keys by its own clock.
 *
 * @internal
 */
import { createHash } from "node:crypto"

const prelude = `
local B = ARGV[1]
local INSTANCE = ARGV[2]
local CH = B .. 'events'
local function tk(id) return B .. 't:' .. id end
local function qk(kind, q) return B .. kind .. ':' .. q end
local function ready_member(run_at, seq, id)
  local r = math.floor(tonumber(run_at))
  if r < 0 then r = 0 end
  return string.format('%015d%016d', r, tonumber(seq)) .. id
end
local SERVER_MS = nil
local function server_ms()
  if not SERVER_MS then
    local t = redis.call('TIME')
    SERVER_MS = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return SERVER_MS
end
-- per-queue status counts, accumulated in the script and written once at its end
local DELTA = {}
local DELTA_KEYS = {}
local function count(q, s, d)
  local f = q .. '\\n' .. s
  if DELTA[f] == nil then
    DELTA[f] = 0
    DELTA_KEYS[#DELTA_KEYS + 1] = f
  end
  DELTA[f] = DELTA[f] + d
end
local function flush_counts()
  for _, f in ipairs(DELTA_KEYS) do
    if DELTA[f] ~= 0 then redis.call('HINCRBY', B .. 'counts', f, DELTA[f]) end
  end
  DELTA = {}
  DELTA_KEYS = {}
end
-- finished tasks are also indexed by status (list, purge); live ones are found through 'all'
local FINISHED = { success = true, failed = true, cancelled = true }
local function move_status(id, q, seq, from, to)
  if from then
    if FINISHED[from] then redis.call('ZREM', B .. 'st:' .. from, id) end
    count(q, from, -1)
  end
  if to then
    if FINISHED[to] then redis.call('ZADD', B .. 'st:' .. to, seq, id) end
    count(q, to, 1)
  end
end
-- ZADD/ZREM of many members, in chunks that stay under Lua's unpack limit
local function zmany(cmd, key, args)
  local n = #args
  local step = 4000
  for i = 1, n, step do
    local j = math.min(i + step - 1, n)
    redis.call(cmd, key, unpack(args, i, j))
  end
end
-- puts a pending task where claim finds it: ready when due, delayed otherwise
local function schedule(id, q, prio, run_at, rm, now)
  if tonumber(run_at) <= now then
    redis.call('ZADD', qk('r', q), -tonumber(prio), rm)
  else
    redis.call('ZADD', qk('d', q), run_at, id)
  end
end
-- takes a task out of every scheduling index of its queue
local function unschedule(id, q, rm)
  redis.call('ZREM', qk('d', q), id)
  redis.call('ZREM', qk('f', q), id)
  if rm then redis.call('ZREM', qk('r', q), rm) end
end
local function release_key(id, key)
  if key and key ~= '' and redis.call('HGET', B .. 'dedup', key) == id then
    redis.call('HDEL', B .. 'dedup', key)
  end
end
-- a finished task keeps its hash for the retention period (ms; negative: forever)
local function retain(id, q, status, retention)
  if retention >= 0 then
    redis.call('PEXPIRE', tk(id), retention)
    redis.call('ZADD', B .. 'exp', server_ms() + retention, status .. '\\n' .. q .. '\\n' .. id)
  end
end
local function unretain(id, q, status)
  redis.call('PERSIST', tk(id))
  redis.call('ZREM', B .. 'exp', status .. '\\n' .. q .. '\\n' .. id)
end
-- removes up to max expired finished tasks from the indexes (and their hashes, if still there)
local function sweep(max)
  local ms = redis.call('ZRANGEBYSCORE', B .. 'exp', '-inf', server_ms(), 'LIMIT', 0, max)
  for _, m in ipairs(ms) do
    local s, q, id = string.match(m, '^([^\\n]*)\\n(.*)\\n([^\\n]*)$')
    if id then
      redis.call('DEL', tk(id))
      redis.call('ZREM', B .. 'all', id)
      move_status(id, q, 0, s, nil)
    end
    redis.call('ZREM', B .. 'exp', m)
  end
  return #ms
end
local function publish(kind, body)
  redis.call('PUBLISH', CH, INSTANCE .. '\\n' .. kind .. '\\n' .. body)
end
-- the record as returned to the client: these fields, in this order (see FIELDS in redis.ts)
local FIELDS = { 'id', 'queue', 'name', 'payload', 'priority', 'status', 'runAt', 'attempts', 'leaseOwner',
  'leaseUntil', 'enqueuedAt', 'startedAt', 'finishedAt', 'result', 'errTag', 'errMsg', 'errData', 'traceback', 'key',
  'failureTimes' }
local function record(t) return redis.call('HMGET', t, unpack(FIELDS)) end
local function is_live(status) return status == 'pending' or status == 'in_progress' end
`

/**
 * ARGV: base, instance, now, retention(unused), n, then per task 8 values:
 * id, queue, name, payload, priority, runAt, hasKey ("1"/"0"), key.
 * Returns a flat array: id, inserted ("1"/"0") per task. Ready is published per queue touched.
 */
const enqueue = `
local now = tonumber(ARGV[3])
local now_s = ARGV[3]
local n = tonumber(ARGV[5])
local out = {}
local batch_keys = {}
local plan = {}
local seen = {}
local inserts = 0
-- pass 1: resolve ids and dedup keys; no writes, so a batch is all or nothing
for i = 0, n - 1 do
  local o = 6 + i * 8
  local id, has_key, key = ARGV[o], ARGV[o + 6], ARGV[o + 7]
  local existing = nil
  if has_key == '1' then
    existing = batch_keys[key]
    if not existing then
      local held = redis.call('HGET', B .. 'dedup', key)
      if held then
        local st = redis.call('HGET', tk(held), 'status')
        if is_live(st) then existing = held end
      end
    end
  end
  if not existing and (seen[id] or redis.call('EXISTS', tk(id)) == 1) then
    -- the same id again (a resent command after a reconnect): it already stands for itself
    existing = id
  end
  if existing then
    out[#out + 1] = existing
    out[#out + 1] = '0'
  else
    if has_key == '1' then batch_keys[key] = id end
    seen[id] = true
    plan[#plan + 1] = o
    inserts = inserts + 1
    out[#out + 1] = id
    out[#out + 1] = '1'
  end
end
if inserts == 0 then return out end
-- pass 2: write
local last = redis.call('INCRBY', B .. 'seq', inserts)
local seq = last - inserts
local touched = {}
local all = {}
for _, o in ipairs(plan) do
  seq = seq + 1
  local id, q, name, payload, prio, run_at, has_key, key =
    ARGV[o], ARGV[o + 1], ARGV[o + 2], ARGV[o + 3], ARGV[o + 4], ARGV[o + 5], ARGV[o + 6], ARGV[o + 7]
  local rm = ready_member(run_at, seq, id)
  if has_key == '1' then
    redis.call('HSET', tk(id), 'id', id, 'queue', q, 'name', name, 'payload', payload, 'priority', prio,
      'status', 'pending', 'runAt', run_at, 'attempts', 0, 'enqueuedAt', now_s, 'seq', seq, 'rm', rm, 'key', key)
    redis.call('HSET', B .. 'dedup', key, id)
  else
    redis.call('HSET', tk(id), 'id', id, 'queue', q, 'name', name, 'payload', payload, 'priority', prio,
      'status', 'pending', 'runAt', run_at, 'attempts', 0, 'enqueuedAt', now_s, 'seq', seq, 'rm', rm)
  end
  all[#all + 1] = seq
  all[#all + 1] = id
  count(q, 'pending', 1)
  schedule(id, q, prio, run_at, rm, now)
  if not touched[q] then
    touched[q] = true
    redis.call('SADD', B .. 'queues', q)
    publish('R', q)
  end
end
zmany('ZADD', B .. 'all', all)
return out
`

/**
 * ARGV: base, instance, now, owner, limit, leaseUntil, q1..qn.
 * Returns the claimed records in claim order, each as the CLAIMED fields (see redis.ts).
 */
const claim = `
local now = tonumber(ARGV[3])
local now_s = ARGV[3]
local owner = ARGV[4]
local limit = tonumber(ARGV[5])
local until_s = ARGV[6]
local PROMOTE = 1000
sweep(100)
local cands = {}
local nq = #ARGV - 6
for i = 7, #ARGV do
  local q = ARGV[i]
  local rk = qk('r', q)
  -- delayed tasks that are due now
  local ids = redis.call('ZRANGEBYSCORE', qk('d', q), '-inf', now_s, 'LIMIT', 0, PROMOTE)
  if #ids > 0 then
    for _, id in ipairs(ids) do
      local f = redis.call('HMGET', tk(id), 'priority', 'rm', 'status')
      if f[3] == 'pending' then redis.call('ZADD', rk, -tonumber(f[1]), f[2]) end
    end
    redis.call('ZREM', qk('d', q), unpack(ids))
  end
  -- running tasks whose lease expired: their worker is gone; back to pending (lease recovery)
  ids = redis.call('ZRANGEBYSCORE', qk('f', q), '-inf', now_s, 'LIMIT', 0, PROMOTE)
  if #ids > 0 then
    for _, id in ipairs(ids) do
      local t = tk(id)
      local f = redis.call('HMGET', t, 'priority', 'rm', 'status', 'seq')
      if f[3] == 'in_progress' then
        redis.call('HSET', t, 'status', 'pending')
        move_status(id, q, f[4], 'in_progress', 'pending')
        redis.call('ZADD', rk, -tonumber(f[1]), f[2])
      end
    end
    redis.call('ZREM', qk('f', q), unpack(ids))
  end
  if limit > 0 and nq > 1 then
    local top = redis.call('ZRANGE', rk, 0, limit - 1, 'WITHSCORES')
    for j = 1, #top, 2 do cands[#cands + 1] = { tonumber(top[j + 1]), top[j], q } end
  end
end
local out = {}
local taken = {}
if nq == 1 then
  -- one queue: the candidates are the head of its ready set, in claim order
  local q = ARGV[7]
  local popped = redis.call('ZPOPMIN', qk('r', q), limit)
  for j = 1, #popped, 2 do taken[#taken + 1] = { popped[j], q } end
else
  table.sort(cands, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  local rem = {}
  for i = 1, math.min(limit, #cands) do
    local c = cands[i]
    taken[#taken + 1] = { c[2], c[3] }
    if not rem[c[3]] then rem[c[3]] = {} end
    table.insert(rem[c[3]], c[2])
  end
  for q, ms in pairs(rem) do zmany('ZREM', qk('r', q), ms) end
end
local inflight = {}
for _, c in ipairs(taken) do
  local m, q = c[1], c[2]
  local id = string.sub(m, 32)
  local t = tk(id)
  -- CLAIMED fields; the client knows the rest (status, lease, startedAt = now, no result yet)
  local rec = redis.call('HMGET', t, 'status', 'id', 'name', 'payload', 'priority', 'runAt', 'attempts',
    'enqueuedAt', 'errTag', 'errMsg', 'errData', 'traceback', 'key', 'failureTimes')
  if rec[1] == 'pending' then
    local attempts = tonumber(rec[7]) + 1
    redis.call('HSET', t, 'status', 'in_progress', 'attempts', attempts, 'leaseOwner', owner,
      'leaseUntil', until_s, 'startedAt', now_s)
    rec[1] = q
    rec[7] = tostring(attempts)
    if not inflight[q] then inflight[q] = {} end
    table.insert(inflight[q], until_s)
    table.insert(inflight[q], id)
    count(q, 'pending', -1)
    count(q, 'in_progress', 1)
    out[#out + 1] = rec
  end
end
for q, pairs_ in pairs(inflight) do zmany('ZADD', qk('f', q), pairs_) end
return out
`

/**
 * ARGV: base, instance, now, leaseUntil, n, then per lease: id, owner, attempt.
 * Returns the ids whose lease is lost.
 */
const heartbeat = `
local until_s = ARGV[4]
local n = tonumber(ARGV[5])
local lost = {}
for i = 0, n - 1 do
  local o = 6 + i * 3
  local id, owner, attempt = ARGV[o], ARGV[o + 1], ARGV[o + 2]
  local t = tk(id)
  local f = redis.call('HMGET', t, 'status', 'leaseOwner', 'attempts', 'queue')
  if f[1] == 'in_progress' and f[2] == owner and f[3] == attempt then
    redis.call('HSET', t, 'leaseUntil', until_s)
    redis.call('ZADD', qk('f', f[4]), until_s, id)
  else
    lost[#lost + 1] = id
  end
end
return lost
`

/**
 * ARGV: base, instance, now, retention, n, then per outcome: kind, id, owner, attempt, and
 * - `S` (Succeeded): result
 * - `R` (Released): nothing more
 * - `F` (Failed): failureTimes, flags, errTag, errMsg, [errData if flags has D], [traceback if flags has T]
 * - `T` (Retrying): runAt, then as `F`.
 * Returns per outcome "" (rejected) or the task's queue (accepted).
 */
const settle = `
local now = tonumber(ARGV[3])
local now_s = ARGV[3]
local retention = tonumber(ARGV[4])
local n = tonumber(ARGV[5])
local out = {}
local finished = {}
local ready = {}
local ready_list = {}
local o = 6
for _ = 1, n do
  local kind, id, owner, attempt = ARGV[o], ARGV[o + 1], ARGV[o + 2], ARGV[o + 3]
  o = o + 4
  local result, run_at_new, err_tag, err_msg, err_data, tb, fails
  if kind == 'S' then
    result = ARGV[o]
    o = o + 1
  elseif kind == 'F' or kind == 'T' then
    if kind == 'T' then
      run_at_new = ARGV[o]
      o = o + 1
    end
    fails = ARGV[o]
    o = o + 1
    local flags = ARGV[o]
    err_tag, err_msg = ARGV[o + 1], ARGV[o + 2]
    o = o + 3
    if string.find(flags, 'D', 1, true) then
      err_data = ARGV[o]
      o = o + 1
    end
    if string.find(flags, 'T', 1, true) then
      tb = ARGV[o]
      o = o + 1
    end
  end
  local t = tk(id)
  local f = redis.call('HMGET', t, 'status', 'leaseOwner', 'attempts', 'queue', 'seq', 'key', 'rm', 'priority', 'runAt',
    'errTag', 'traceback')
  if f[1] == 'in_progress' and f[2] == owner and f[3] == attempt then
    local q, seq = f[4], f[5]
    -- a running task is only in its queue's in-flight set
    redis.call('ZREM', qk('f', q), id)
    if kind == 'S' then
      redis.call('HSET', t, 'status', 'success', 'result', result, 'finishedAt', now_s)
      if f[10] or f[11] then redis.call('HDEL', t, 'errTag', 'errMsg', 'errData', 'traceback') end
    elseif kind == 'R' then
      redis.call('HSET', t, 'status', 'pending', 'attempts', tonumber(f[3]) - 1)
    else
      -- Failed or Retrying: the error and traceback of this attempt
      local set = { 'errTag', err_tag, 'errMsg', err_msg, 'failureTimes', fails }
      local del = {}
      if err_data then
        table.insert(set, 'errData')
        table.insert(set, err_data)
      else
        table.insert(del, 'errData')
      end
      if tb then
        table.insert(set, 'traceback')
        table.insert(set, tb)
      else
        table.insert(del, 'traceback')
      end
      table.insert(set, 'status')
      if kind == 'F' then
        table.insert(set, 'failed')
        table.insert(set, 'finishedAt')
        table.insert(set, now_s)
      else
        table.insert(set, 'pending')
        table.insert(set, 'runAt')
        table.insert(set, run_at_new)
        table.insert(set, 'rm')
        table.insert(set, ready_member(run_at_new, seq, id))
      end
      redis.call('HSET', t, unpack(set))
      if #del > 0 then redis.call('HDEL', t, unpack(del)) end
    end
    if kind == 'S' or kind == 'F' then
      local status = 'success'
      if kind == 'F' then status = 'failed' end
      move_status(id, q, seq, 'in_progress', status)
      release_key(id, f[6])
      retain(id, q, status, retention)
      finished[#finished + 1] = id
    else
      local run_at, rm = f[9], f[7]
      if kind == 'T' then
        run_at = run_at_new
        rm = ready_member(run_at, seq, id)
      end
      move_status(id, q, seq, 'in_progress', 'pending')
      schedule(id, q, f[8], run_at, rm, now)
      if not ready[q] then
        ready[q] = true
        ready_list[#ready_list + 1] = q
      end
    end
    out[#out + 1] = q
  else
    out[#out + 1] = ''
  end
end
for _, q in ipairs(ready_list) do publish('R', q) end
if #finished > 0 then publish('F', table.concat(finished, '\\n')) end
return out
`

/**
 * ARGV: base, instance, now, retention, id. Returns "cancelled" | "finished" | "not_found".
 */
const cancel = `
local now_s = ARGV[3]
local retention = tonumber(ARGV[4])
local id = ARGV[5]
local t = tk(id)
local f = redis.call('HMGET', t, 'status', 'queue', 'seq', 'key', 'rm')
if not f[1] then return 'not_found' end
if not is_live(f[1]) then return 'finished' end
local q = f[2]
unschedule(id, q, f[5])
redis.call('HSET', t, 'status', 'cancelled', 'finishedAt', now_s)
move_status(id, q, f[3], f[1], 'cancelled')
release_key(id, f[4])
retain(id, q, 'cancelled', retention)
publish('C', id)
return 'cancelled'
`

/**
 * ARGV: base, instance, now, retention(unused), id. Returns { result, queue }; result is
 * "requeued", "not_finished", "key_held" (another live task holds its dedup key) or "not_found".
 */
const retry = `
local now = tonumber(ARGV[3])
local now_s = ARGV[3]
local id = ARGV[5]
local t = tk(id)
local f = redis.call('HMGET', t, 'status', 'queue', 'seq', 'key', 'priority')
if not f[1] then return { 'not_found', '' } end
if f[1] ~= 'failed' and f[1] ~= 'cancelled' then return { 'not_finished', '' } end
local key = f[4]
if key and key ~= '' then
  local held = redis.call('HGET', B .. 'dedup', key)
  if held and held ~= id and is_live(redis.call('HGET', tk(held), 'status')) then return { 'key_held', '' } end
end
local q, seq = f[2], f[3]
unretain(id, q, f[1])
local rm = ready_member(now_s, seq, id)
redis.call('HSET', t, 'status', 'pending', 'runAt', now_s, 'attempts', 0, 'rm', rm)
redis.call('HDEL', t, 'startedAt', 'finishedAt', 'result', 'errTag', 'errMsg', 'errData', 'traceback',
  'leaseOwner', 'leaseUntil', 'failureTimes')
move_status(id, q, seq, f[1], 'pending')
if key and key ~= '' then redis.call('HSET', B .. 'dedup', key, id) end
schedule(id, q, f[5], now_s, rm, now)
publish('R', q)
return { 'requeued', q }
`

/**
 * ARGV: base, instance, status ("" any), queue ("" any), hasName, name, limit (-1 all), newestFirst.
 * Returns FIELDS arrays in order.
 */
const list = `
sweep(1000)
local status, queue, has_name, name = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local limit = tonumber(ARGV[7])
local newest = ARGV[8] == '1'
local idx = B .. 'all'
local check_status = status ~= ''
if status == 'success' or status == 'failed' or status == 'cancelled' then
  idx = B .. 'st:' .. status
  check_status = false
end
local out = {}
if limit == 0 then return out end
local pos = 0
local CHUNK = 256
while true do
  local ids
  if newest then
    ids = redis.call('ZREVRANGE', idx, pos, pos + CHUNK - 1)
  else
    ids = redis.call('ZRANGE', idx, pos, pos + CHUNK - 1)
  end
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local t = tk(id)
    local ok = true
    if queue ~= '' or has_name == '1' or check_status then
      local f = redis.call('HMGET', t, 'queue', 'name', 'status')
      if queue ~= '' and f[1] ~= queue then ok = false end
      if has_name == '1' and f[2] ~= name then ok = false end
      if check_status and f[3] ~= status then ok = false end
    end
    if ok then
      local rec = record(t)
      if rec[1] then
        out[#out + 1] = rec
        if limit > 0 and #out >= limit then return out end
      end
    end
  end
  pos = pos + CHUNK
end
return out
`

/**
 * ARGV: base, instance, queue ("" all). Returns the five counts in status order.
 */
const stats = `
while sweep(1000) == 1000 do end
flush_counts()
local names = { 'pending', 'in_progress', 'success', 'failed', 'cancelled' }
local out = { 0, 0, 0, 0, 0 }
local queues
if ARGV[3] ~= '' then queues = { ARGV[3] } else queues = redis.call('SMEMBERS', B .. 'queues') end
for _, q in ipairs(queues) do
  for i, s in ipairs(names) do
    local c = redis.call('HGET', B .. 'counts', q .. '\\n' .. s)
    if c then out[i] = out[i] + tonumber(c) end
  end
end
return out
`

/**
 * One bounded batch of a purge. ARGV: base, instance, statuses (comma separated), hasBefore,
 * before, queue ("" any), statusIndex (1-based), offset, budget.
 * Returns { deleted, nextStatusIndex, nextOffset } (nextStatusIndex 0 when done).
 */
const purge = `
sweep(1000)
local statuses = {}
for s in string.gmatch(ARGV[3], '[^,]+') do statuses[#statuses + 1] = s end
local has_before = ARGV[4] == '1'
local before = tonumber(ARGV[5])
local queue = ARGV[6]
local si = tonumber(ARGV[7])
local pos = tonumber(ARGV[8])
local budget = tonumber(ARGV[9])
local deleted = 0
local scanned = 0
while si <= #statuses do
  local s = statuses[si]
  local idx = B .. 'st:' .. s
  local ids = redis.call('ZRANGE', idx, pos, pos + 255)
  if #ids == 0 then
    si = si + 1
    pos = 0
  else
    for _, id in ipairs(ids) do
      local t = tk(id)
      local f = redis.call('HMGET', t, 'queue', 'finishedAt', 'status')
      local ok = f[3] == s
      if ok and queue ~= '' and f[1] ~= queue then ok = false end
      if ok and has_before and not (f[2] and tonumber(f[2]) < before) then ok = false end
      if ok then
        redis.call('DEL', t)
        redis.call('ZREM', B .. 'all', id)
        redis.call('ZREM', B .. 'exp', s .. '\\n' .. f[1] .. '\\n' .. id)
        move_status(id, f[1], 0, s, nil)
        deleted = deleted + 1
      elseif not f[3] then
        -- a dangling id (hash already gone): drop it from the index
        redis.call('ZREM', idx, id)
        redis.call('ZREM', B .. 'all', id)
      else
        pos = pos + 1
      end
    end
    scanned = scanned + #ids
    if scanned >= budget then return { deleted, si, pos } end
  end
end
return { deleted, 0, 0 }
`

/**
 * ARGV: base, instance, q1..qn. Returns the earliest runAt of a pending task or leaseUntil of a
 * running one in these queues, as a string, or false.
 */
const nextWakeAt = `
local best = nil
local best_s = false
local function consider(v)
  if v then
    local x = tonumber(v)
    if best == nil or x < best then
      best = x
      best_s = v
    end
  end
end
for i = 3, #ARGV do
  local q = ARGV[i]
  local d = redis.call('ZRANGE', qk('d', q), 0, 0, 'WITHSCORES')
  if #d > 0 then consider(d[2]) end
  local f = redis.call('ZRANGE', qk('f', q), 0, 0, 'WITHSCORES')
  if #f > 0 then consider(f[2]) end
  -- ready: the head of each priority level has that level's earliest runAt
  local rk = qk('r', q)
  local head = redis.call('ZRANGE', rk, 0, 0, 'WITHSCORES')
  while #head > 0 do
    consider(redis.call('HGET', tk(string.sub(head[1], 32)), 'runAt'))
    head = redis.call('ZRANGEBYSCORE', rk, '(' .. head[2], '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  end
end
return best_s
`

/** Every script body runs as a function, so that the count deltas are written once at its end. */
const script = (body: string): string =>
  `${prelude}\nlocal function main()\n${body}\nend\nlocal result = main()\nflush_counts()\nreturn result\n`

/**
 * One script of the Redis backend: its source, the SHA1 it is cached under on the server
 * (`EVALSHA`), and whether its reply holds bytes (payloads, results) and is read as Buffers.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export interface Script {
  readonly name: string
  readonly lua: string
  readonly sha: string
  readonly binary: boolean
}

const define = (name: string, body: string, binary: boolean): Script => {
  const lua = script(body)
  return { name, lua, sha: createHash("sha1").update(lua).digest("hex"), binary }
}

/**
 * Every script of the Redis backend. Each takes one key (`sitq:{prefix}:all`, which routes it to
 * the store's slot) and the arguments `base, instance, ...` (see each script's comment).
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const scripts = {
  enqueue: define("enqueue", enqueue, false),
  claim: define("claim", claim, true),
  heartbeat: define("heartbeat", heartbeat, false),
  settle: define("settle", settle, false),
  cancel: define("cancel", cancel, false),
  retry: define("retry", retry, false),
  list: define("list", list, true),
  stats: define("stats", stats, false),
  purge: define("purge", purge, false),
  nextWakeAt: define("nextWakeAt", nextWakeAt, false)
} as const satisfies Record<string, Script>

/**
 * A connection that can run scripts (a single server or a cluster).
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export interface ScriptClient {
  readonly call: (command: string, ...args: Array<string | Buffer | number>) => Promise<unknown>
  readonly callBuffer: (command: string, ...args: Array<string | Buffer | number>) => Promise<unknown>
}

/**
 * Runs a script with one key: by its SHA1, and with its source when the server does not have it
 * cached yet (a fresh server, after `SCRIPT FLUSH` or a failover), which caches it.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const runScript = (
  client: ScriptClient,
  s: Script,
  key: string,
  args: ReadonlyArray<string | Buffer | number>
): Promise<unknown> => {
  const send = s.binary ? client.callBuffer.bind(client) : client.call.bind(client)
  return send("EVALSHA", s.sha, 1, key, ...args).catch((error: unknown) =>
    error instanceof Error && error.message.startsWith("NOSCRIPT")
      ? send("EVAL", s.lua, 1, key, ...args)
      : Promise.reject(error)
  )
}
