/**
 * The dashboard's and the CLI's read models over the `Backend` port: counts per queue and status
 * with finishes per minute, and pages of the task list.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Option } from "effect"
import type * as B from "../Backend.js"
import { Backend } from "../Backend.js"
import type { BackendError } from "../Errors.js"
import * as View from "./view.js"

/**
 * Counts per queue and status, and finishes per minute.
 *
 * @since 0.1.0
 * @category models
 */
export interface Overview {
  readonly at: number
  readonly total: B.Stats
  readonly queues: ReadonlyArray<{ readonly queue: string; readonly counts: B.Stats }>
  readonly throughput: {
    readonly bucketMillis: number
    /** Start of the first bucket. */
    readonly from: number
    readonly success: ReadonlyArray<number>
    readonly failed: ReadonlyArray<number>
    /** How many tasks of each final status were read (counts are exact below `sampleSize`). */
    readonly sampled: number
  }
}

const BUCKET = 60_000
const BUCKETS = 15
const SCAN_MAX = 20_000

/**
 * Counts per queue and status and finishes per minute, from the store.
 *
 * @since 0.1.0
 * @category queries
 */
export const overview = (
  options: { readonly queues?: ReadonlyArray<string> | undefined; readonly sampleSize?: number | undefined } = {}
): Effect.Effect<Overview, BackendError, Backend> =>
  Effect.gen(function*() {
    const backend = yield* Backend
    const sample = Math.max(1, Math.floor(options.sampleSize ?? 1000))
    const [total, recent, success, failed] = yield* Effect.all([
      backend.stats(),
      backend.list({ newestFirst: true, limit: sample }),
      backend.list({ status: "success", newestFirst: true, limit: sample }),
      backend.list({ status: "failed", newestFirst: true, limit: sample })
    ], { concurrency: 2 })
    const names = new Set(options.queues ?? [])
    for (const rec of recent) names.add(rec.queue)
    const queues = yield* Effect.forEach(
      Array.from(names).sort(),
      (queue) => Effect.map(backend.stats(queue), (counts) => ({ queue, counts })),
      { concurrency: 2 }
    )
    const now = yield* Clock.currentTimeMillis
    const from = (Math.floor(now / BUCKET) - (BUCKETS - 1)) * BUCKET
    const bucket = (recs: ReadonlyArray<B.TaskRecord>): Array<number> => {
      const counts = new Array<number>(BUCKETS).fill(0)
      for (const rec of recs) {
        if (rec.finishedAt === null || rec.finishedAt < from) continue
        const i = Math.floor((rec.finishedAt - from) / BUCKET)
        if (i >= 0 && i < BUCKETS) counts[i] = (counts[i] ?? 0) + 1
      }
      return counts
    }
    return {
      at: now,
      total,
      queues,
      throughput: { bucketMillis: BUCKET, from, success: bucket(success), failed: bucket(failed), sampled: sample }
    }
  })

/**
 * A page of the task list, newest first, after the task `after` (an id of the previous page's
 * last row). The port has no cursor, so the page is cut from a list read far enough to hold it.
 *
 * @since 0.1.0
 * @category queries
 */
export const page = (
  filter: Omit<B.ListFilter, "limit" | "newestFirst">,
  size: number,
  after: string | undefined
): Effect.Effect<{ readonly tasks: ReadonlyArray<View.TaskSummary>; readonly next: string | null }, BackendError, Backend> =>
  Effect.gen(function*() {
    const backend = yield* Backend
    const anchor = after === undefined ? Option.none() : yield* backend.get(after)
    let limit = size + 1
    for (;;) {
      const rows = yield* backend.list({ ...filter, newestFirst: true, limit })
      let start = 0
      if (after !== undefined) {
        const at = rows.findIndex((r) => r.id === after)
        // the anchor filtered out since (its status changed): start past it (enqueue time, then the
        // time-ordered id); gone: at the end
        const past = at >= 0 || Option.isNone(anchor)
          ? -1
          : rows.findIndex((r) =>
            r.enqueuedAt < anchor.value.enqueuedAt || (r.enqueuedAt === anchor.value.enqueuedAt && r.id < anchor.value.id)
          )
        if (at >= 0) start = at + 1
        else if (past >= 0) start = past
        else if (rows.length === limit && limit < SCAN_MAX) {
          limit = Math.min(SCAN_MAX, limit * 2)
          continue
        } else start = rows.length
      }
      if (rows.length === limit && rows.length < start + size + 1 && limit < SCAN_MAX) {
        limit = Math.min(SCAN_MAX, start + size + 1)
        continue
      }
      const tasks = rows.slice(start, start + size).map(View.summary)
      const last = tasks[tasks.length - 1]
      return { tasks, next: rows.length > start + size && last !== undefined ? last.id : null }
    }
  })

