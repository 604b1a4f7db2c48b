/**
 * The SQL of the PostgreSQL backend, one statement per port operation, for a store in `schema`.
 * Kept apart so that tests can `EXPLAIN` exactly what the backend runs.
 *
 * @internal
 */
import { taskColumns } from "../kit/rows.js"

/**
 * Valid schema names: lower-case identifiers (no quoting surprises, at most 63 bytes).
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const schemaPattern = /^[a-z_][a-z0-9_]{0,62}$/

/**
 * The task columns, with a table prefix (`"t."`) or none.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const columns = (prefix: string): string => taskColumns.map((c) => `${prefix}${c}`).join(", ")

/**
 * The statements for a store in `schema` (already checked against {@link schemaPattern}).
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const statements = (schema: string) => {
  const T = `"${schema}".tasks`
  const live = `('pending', 'in_progress')`
  const finished = `('success', 'failed', 'cancelled')`
  /**
   * Due pending tasks and tasks with an expired lease, each set taken in claim order from its
   * partial index and locked with SKIP LOCKED, then the first `$3` of both. With several queues
   * each queue is walked on its own (a LATERAL join), so the index order is used per queue
   * instead of sorting every due task of every queue. `named`: only tasks whose name is in `$6`,
   * each (queue, name) pair walked on its own in `tasks_pending_name`, so that pending tasks of
   * other names are never read.
   */
  const claimFor = (many: boolean, named: boolean) => {
    const due = (status: string, condition: string, byName: boolean) => {
      const select = (queue: string, name: string | null) =>
        `SELECT id, priority, run_at, seq FROM ${T}
        WHERE status = '${status}' AND queue = ${queue} ${name === null ? "" : `AND name = ${name}`} AND ${condition}
        ORDER BY priority DESC, run_at, seq LIMIT $3 FOR UPDATE SKIP LOCKED`
      if (byName) {
        return `SELECT x.* FROM unnest($1::text[]) AS qn(queue) CROSS JOIN unnest($6::text[]) AS tn(name)
          CROSS JOIN LATERAL (${select("qn.queue", "tn.name")}) x`
      }
      return many
        ? `SELECT x.* FROM unnest($1::text[]) AS qn(queue) CROSS JOIN LATERAL (${select("qn.queue", null)}) x`
        : select("$1", null)
    }
    return `
    WITH p AS (${due("pending", "run_at <= $2", named)}),
    l AS (${due("in_progress", `lease_until <= $2${named ? " AND name = ANY($6::text[])" : ""}`, false)}),
    c AS (
      SELECT id FROM (SELECT * FROM p UNION ALL SELECT * FROM l) x
      ORDER BY priority DESC, run_at, seq LIMIT $3
    )
    UPDATE ${T} t SET status = 'in_progress', attempts = t.attempts + 1, lease_owner = $4,
      lease_until = $5, started_at = $2
    FROM c WHERE t.id = c.id
    RETURNING ${columns("t.")}`
  }
  /**
   * The earliest runAt of pending tasks (with `named`, of the names in `$2` only) and the earliest
   * lease of running ones in the queues `$1`. The pending indexes lead with priority after the
   * queue (and name), so the earliest runAt is found per priority with a loose index scan (a few
   * index probes per queue or (queue, name), not a scan of every pending task).
   */
  const wakeFor = (named: boolean) => {
    const scope = (t: string) => `${t}status = 'pending' AND ${t}queue = qn.queue${named ? ` AND ${t}name = tn.name` : ""}`
    return `
      SELECT LEAST(
        (SELECT min(m.at) FROM unnest($1::text[]) AS qn(queue)${named ? " CROSS JOIN unnest($2::text[]) AS tn(name)" : ""},
         LATERAL (
          WITH RECURSIVE pr(p) AS (
            (SELECT priority FROM ${T} WHERE ${scope("")} ORDER BY priority DESC LIMIT 1)
            UNION ALL
            SELECT (
              SELECT t.priority FROM ${T} t WHERE ${scope("t.")} AND t.priority < pr.p
              ORDER BY t.priority DESC LIMIT 1
            ) FROM pr WHERE pr.p IS NOT NULL
          )
          SELECT min((
            SELECT t.run_at FROM ${T} t WHERE ${scope("t.")} AND t.priority = pr.p
            ORDER BY t.priority DESC, t.run_at LIMIT 1
          )) AS at FROM pr WHERE pr.p IS NOT NULL
        ) m),
        (SELECT min(lease_until) FROM ${T} WHERE status = 'in_progress' AND queue = ANY($1::text[])${
      named ? " AND name = ANY($2::text[])" : ""
    })
      ) AS at`
  }
  const keepOnRelease = (column: string) =>
    `${column} = CASE i.kind WHEN 'S' THEN NULL WHEN 'L' THEN t.${column} ELSE i.${column} END`
  return {
    T,
    enqueue: `
      WITH input AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::int4[], $6::int8[], $7::text[])
          WITH ORDINALITY AS i(id, queue, name, payload, priority, run_at, key, ord)
      ), ins AS (
        INSERT INTO ${T} (id, queue, name, payload, priority, status, run_at, attempts, enqueued_at, key)
        SELECT id, queue, name, payload, priority, 'pending', run_at, 0, $8::int8, key FROM input ORDER BY ord
        ON CONFLICT (key) WHERE key IS NOT NULL AND status IN ${live} DO NOTHING
        RETURNING id, queue
      ), notified AS (
        SELECT count(pg_notify($9, 'R|' || $10 || '|' || q.queue)) AS n FROM (SELECT DISTINCT queue FROM ins) q
      )
      SELECT i.ord::int4 AS ord, ins.id AS inserted_id, e.id AS existing_id, (SELECT n FROM notified) AS n
      FROM input i
      LEFT JOIN ins ON ins.id = i.id
      LEFT JOIN ${T} e ON ins.id IS NULL AND i.key IS NOT NULL AND e.key = i.key AND e.status IN ${live}
      ORDER BY i.ord`,
    enqueueNoKeys: `
      WITH ins AS (
        INSERT INTO ${T} (id, queue, name, payload, priority, status, run_at, attempts, enqueued_at)
        SELECT id, queue, name, payload, priority, 'pending', run_at, 0, $7::int8
        FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::int4[], $6::int8[])
          WITH ORDINALITY AS i(id, queue, name, payload, priority, run_at, ord)
        ORDER BY ord
        RETURNING queue
      )
      SELECT count(pg_notify($8, 'R|' || $9 || '|' || q.queue))::int4 AS n FROM (SELECT DISTINCT queue FROM ins) q`,
    liveKeys: `SELECT id, key FROM ${T} WHERE key = ANY($1::text[]) AND status IN ${live}`,
    claimOne: claimFor(false, false),
    claimMany: claimFor(true, false),
    claimNamed: claimFor(true, true),
    heartbeat: `
      UPDATE ${T} t SET lease_until = $4
      FROM unnest($1::text[], $2::text[], $3::int4[]) AS l(id, owner, attempt)
      WHERE t.id = l.id AND t.status = 'in_progress' AND t.lease_owner = l.owner AND t.attempts = l.attempt
      RETURNING t.id, t.lease_owner, t.attempts`,
    settle: `
      WITH input AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[], $5::bytea[], $6::text[], $7::text[],
          $8::bytea[], $9::text[], $10::int8[], $14::text[])
          WITH ORDINALITY AS i(kind, id, owner, attempt, result, error_tag, error_message, error_data, traceback,
            run_at, failure_times, ord)
      ), u AS (
        UPDATE ${T} t SET
          status = CASE i.kind WHEN 'S' THEN 'success' WHEN 'F' THEN 'failed' ELSE 'pending' END,
          result = CASE WHEN i.kind = 'S' THEN i.result ELSE t.result END,
          ${keepOnRelease("error_tag")},
          ${keepOnRelease("error_message")},
          ${keepOnRelease("error_data")},
          ${keepOnRelease("traceback")},
          failure_times = CASE WHEN i.kind IN ('F', 'R') THEN i.failure_times ELSE t.failure_times END,
          run_at = CASE WHEN i.kind = 'R' THEN i.run_at ELSE t.run_at END,
          attempts = CASE WHEN i.kind = 'L' THEN t.attempts - 1 ELSE t.attempts END,
          finished_at = CASE WHEN i.kind IN ('S', 'F') THEN $11::int8 ELSE t.finished_at END,
          lease_owner = NULL,
          lease_until = NULL
        FROM input i
        WHERE t.id = i.id AND t.status = 'in_progress' AND t.lease_owner = i.owner AND t.attempts = i.attempt
        RETURNING i.ord, i.kind, t.id, t.queue
      ), nf AS (
        SELECT count(pg_notify($12, 'F|' || $13 || '|' || g.ids)) AS n FROM (
          SELECT string_agg(x.id, ',') AS ids
          FROM (SELECT id, row_number() OVER () AS rn FROM u WHERE kind IN ('S', 'F')) x
          GROUP BY (x.rn - 1) / 150
        ) g
      ), nr AS (
        SELECT count(pg_notify($12, 'R|' || $13 || '|' || q.queue)) AS n
        FROM (SELECT DISTINCT queue FROM u WHERE kind IN ('R', 'L')) q
      )
      SELECT u.ord::int4 AS ord, u.kind, u.id, u.queue, (SELECT n FROM nf) AS nf, (SELECT n FROM nr) AS nr FROM u`,
    cancel: `
      WITH u AS (
        UPDATE ${T} SET status = 'cancelled', finished_at = $2, lease_owner = NULL, lease_until = NULL
        WHERE id = $1 AND status IN ${live}
        RETURNING id
      ), n AS (SELECT count(pg_notify($3, 'C|' || $4 || '|' || u.id)) AS n FROM u)
      SELECT (SELECT count(*) FROM u)::int4 AS updated, (SELECT n FROM n) AS n,
        (SELECT status FROM ${T} WHERE id = $1) AS status`,
    retry: `
      WITH u AS (
        UPDATE ${T} t SET status = 'pending', run_at = $2, attempts = 0, started_at = NULL, finished_at = NULL,
          result = NULL, error_tag = NULL, error_message = NULL, error_data = NULL, traceback = NULL,
          failure_times = '', lease_owner = NULL, lease_until = NULL
        WHERE t.id = $1 AND t.status IN ('failed', 'cancelled')
          AND (t.key IS NULL OR NOT EXISTS (SELECT 1 FROM ${T} o WHERE o.key = t.key AND o.status IN ${live}))
        RETURNING t.queue
      ), n AS (SELECT count(pg_notify($3, 'R|' || $4 || '|' || u.queue)) AS n FROM u)
      SELECT (SELECT queue FROM u) AS queue, (SELECT n FROM n) AS n,
        (SELECT status FROM ${T} WHERE id = $1) AS status`,
    get: `SELECT ${columns("")} FROM ${T} WHERE id = $1`,
    stats: `SELECT status, count(*)::int8 AS n FROM ${T} GROUP BY status`,
    statsQueue: `SELECT status, count(*)::int8 AS n FROM ${T} WHERE queue = $1 GROUP BY status`,
    nextWakeAt: wakeFor(false),
    nextWakeAtNamed: wakeFor(true),
    purge: (byTime: boolean, byQueue: boolean) => `
      WITH d AS (
        DELETE FROM ${T} WHERE id IN (
          SELECT id FROM ${T}
          WHERE status IN ${finished} AND status = ANY($1::text[])
            ${byTime ? "AND finished_at < $3" : ""} ${byQueue ? `AND queue = $${byTime ? 4 : 3}` : ""}
          LIMIT $2 FOR UPDATE SKIP LOCKED
        )
        RETURNING 1
      )
      SELECT count(*)::int4 AS n FROM d`
  }
}

