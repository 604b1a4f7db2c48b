/**
 * Plain views of task records for people and JSON clients (the `sitq` CLI and the dashboard):
 * payloads, results and error data shown as JSON when the stored bytes parse as JSON (the default
 * `Serializer.json`), else as base64, so a record written by any serializer can be inspected
 * without its task definitions.
 *
 * @since 0.1.0
 */
import type * as B from "../Backend.js"

/**
 * Stored bytes, decoded for display: `json` when they are UTF-8 JSON text (an empty byte string is
 * the JSON serializer's `undefined`, shown as `empty`), else `base64`.
 *
 * @since 0.1.0
 * @category models
 */
export type BytesView =
  | { readonly encoding: "json"; readonly value: unknown }
  | { readonly encoding: "empty" }
  | { readonly encoding: "base64"; readonly value: string }

const utf8 = new TextDecoder("utf-8", { fatal: true })

const parseJson = (bytes: Uint8Array): { readonly ok: true; readonly value: unknown } | { readonly ok: false } => {
  try {
    return { ok: true, value: JSON.parse(utf8.decode(bytes)) as unknown }
  } catch {
    return { ok: false }
  }
}

/**
 * Decodes stored bytes for display.
 *
 * @since 0.1.0
 * @category views
 */
export const bytesView = (bytes: Uint8Array): BytesView => {
  if (bytes.length === 0) return { encoding: "empty" }
  const parsed = parseJson(bytes)
  return parsed.ok
    ? { encoding: "json", value: parsed.value }
    : { encoding: "base64", value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64") }
}

/**
 * One task as the list views show it (no payload or result bytes).
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskSummary {
  readonly id: string
  readonly queue: string
  readonly name: string
  readonly status: B.TaskStatus
  readonly priority: number
  readonly attempts: number
  readonly runAt: number
  readonly enqueuedAt: number
  readonly startedAt: number | null
  readonly finishedAt: number | null
  readonly error: { readonly tag: string; readonly message: string } | null
}

/**
 * One task in full: its summary, decoded payload, result and error data, traceback, lease and key.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskDetail extends TaskSummary {
  readonly payload: BytesView
  readonly result: BytesView | null
  readonly errorData: BytesView | null
  readonly traceback: string | null
  readonly leaseOwner: string | null
  readonly leaseUntil: number | null
  readonly key: string | null
  /** The times of the task's life that are known, in order. */
  readonly timeline: ReadonlyArray<{ readonly event: string; readonly at: number }>
}

/**
 * The summary of a record.
 *
 * @since 0.1.0
 * @category views
 */
export const summary = (rec: B.TaskRecord): TaskSummary => ({
  id: rec.id,
  queue: rec.queue,
  name: rec.name,
  status: rec.status,
  priority: rec.priority,
  attempts: rec.attempts,
  runAt: rec.runAt,
  enqueuedAt: rec.enqueuedAt,
  startedAt: rec.startedAt,
  finishedAt: rec.finishedAt,
  error: rec.error === null ? null : { tag: rec.error.tag, message: rec.error.message }
})

/**
 * The timeline of a record: enqueued, due (when later than the enqueue), last started, finished
 * (with the final status).
 *
 * @since 0.1.0
 * @category views
 */
export const timeline = (rec: B.TaskRecord): ReadonlyArray<{ readonly event: string; readonly at: number }> => {
  const out: Array<{ event: string; at: number }> = [{ event: "enqueued", at: rec.enqueuedAt }]
  if (rec.status === "pending" && rec.runAt > rec.enqueuedAt) {
    out.push({ event: rec.attempts > 0 ? "retry due" : "due", at: rec.runAt })
  }
  if (rec.startedAt !== null) {
    out.push({ event: rec.attempts > 1 ? `attempt ${rec.attempts} started` : "started", at: rec.startedAt })
  }
  if (rec.finishedAt !== null) out.push({ event: rec.status, at: rec.finishedAt })
  return out
}

/**
 * The full view of a record.
 *
 * @since 0.1.0
 * @category views
 */
export const detail = (rec: B.TaskRecord): TaskDetail => ({
  ...summary(rec),
  payload: bytesView(rec.payload),
  result: rec.result === null ? null : bytesView(rec.result),
  errorData: rec.error === null || rec.error.data === null ? null : bytesView(rec.error.data),
  traceback: rec.traceback,
  leaseOwner: rec.leaseOwner,
  leaseUntil: rec.leaseUntil,
  key: rec.key,
  timeline: timeline(rec)
})
