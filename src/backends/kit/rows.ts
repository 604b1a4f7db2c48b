/**
 * The row ↔ record mapping that the SQL backends (SQLite, PostgreSQL) share: one table row per
 * task, snake_case columns, times as integer epoch milliseconds, the error in three columns, the
 * failure times of the current run as text. Also the failure times' text form, which the Redis
 * backend stores in its task hashes too.
 *
 * @internal
 */
import type * as B from "../../Backend.js"

/**
 * A task row as the SQL backends read it. Integer columns may come back as numbers, strings (int8
 * from `pg`) or bigints; {@link toRecord} normalizes them.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export interface TaskRow {
  readonly id: string
  readonly seq: unknown
  readonly queue: string
  readonly name: string
  readonly payload: Uint8Array
  readonly priority: unknown
  readonly status: B.TaskStatus
  readonly run_at: unknown
  readonly attempts: unknown
  readonly lease_owner: string | null
  readonly lease_until: unknown
  readonly enqueued_at: unknown
  readonly started_at: unknown
  readonly finished_at: unknown
  readonly result: Uint8Array | null
  readonly error_tag: string | null
  readonly error_message: string | null
  readonly error_data: Uint8Array | null
  readonly traceback: string | null
  readonly key: string | null
  readonly failure_times: string | null
}

/**
 * An integer column as a number.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const num = (u: unknown): number => (typeof u === "number" ? u : Number(u))

/**
 * A nullable integer column as a number or null.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const numOrNull = (u: unknown): number | null => (u === null || u === undefined ? null : num(u))

/**
 * Failure times as stored: decimal epoch milliseconds separated by commas ("" for none).
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const encodeFailureTimes = (times: ReadonlyArray<number>): string => times.map((t) => Math.round(t)).join(",")

/**
 * Failure times from their stored text (null or "" for none); anything that is not a number is skipped.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const decodeFailureTimes = (text: string | null | undefined): ReadonlyArray<number> => {
  if (text === null || text === undefined || text === "") return []
  const out: Array<number> = []
  for (const part of text.split(",")) {
    const n = Number(part)
    if (part !== "" && Number.isFinite(n)) out.push(n)
  }
  return out
}

/**
 * The record a row stands for.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const toRecord = (row: TaskRow): B.TaskRecord => ({
  id: row.id,
  queue: row.queue,
  name: row.name,
  payload: row.payload,
  priority: num(row.priority),
  status: row.status,
  runAt: num(row.run_at),
  attempts: num(row.attempts),
  leaseOwner: row.lease_owner,
  leaseUntil: numOrNull(row.lease_until),
  enqueuedAt: num(row.enqueued_at),
  startedAt: numOrNull(row.started_at),
  finishedAt: numOrNull(row.finished_at),
  result: row.result,
  error: row.error_tag === null ? null : { tag: row.error_tag, message: row.error_message ?? "", data: row.error_data },
  traceback: row.traceback,
  key: row.key,
  failureTimes: decodeFailureTimes(row.failure_times)
})

/**
 * The columns of a task row, in the order above.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const taskColumns: ReadonlyArray<keyof TaskRow> = [
  "id",
  "seq",
  "queue",
  "name",
  "payload",
  "priority",
  "status",
  "run_at",
  "attempts",
  "lease_owner",
  "lease_until",
  "enqueued_at",
  "started_at",
  "finished_at",
  "result",
  "error_tag",
  "error_message",
  "error_data",
  "traceback",
  "key",
  "failure_times"
]

/**
 * What a `Failed` or `Retrying` outcome stores (error, traceback, failure times), or nulls for the
 * other outcomes: the per-outcome parameters every backend's settle passes.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const failureOf = (outcome: B.Outcome): {
  readonly error: B.StoredError | null
  readonly traceback: string | null
  readonly failureTimes: string | null
} =>
  outcome._tag === "Failed" || outcome._tag === "Retrying"
    ? { error: outcome.error, traceback: outcome.traceback, failureTimes: encodeFailureTimes(outcome.failureTimes) }
    : { error: null, traceback: null, failureTimes: null }
