/**
 * The storage port. Every backend (memory, SQLite, PostgreSQL, Redis) implements this one
 * interface, and every backend passes the same two suites: the port suite
 * (`test/conformance/port.ts`), which states each contract written here as a test through the port
 * alone, and the behaviour suite (`test/conformance/suite.ts`) through `TaskQueue` and `Worker`.
 * What backends share (events, empty-input guards, purge in batches, retention, claim order, the
 * SQL row mapping) lives in `src/backends/kit/`.
 *
 * The port is deliberately small and batch-first: `claim` takes many due tasks at once under a
 * lease, `settle` records many outcomes at once, and every write that belongs to a running attempt
 * is fenced by its {@link Lease} (owner and attempt number), so a worker that lost its lease can
 * never overwrite a newer attempt. Time is read from Effect's `Clock` inside each operation, so
 * delays, leases and retries follow `TestClock` in tests.
 *
 * @since 0.1.0
 */
import type { Effect, Option, Queue, Scope } from "effect"
import { Context } from "effect"
import type { BackendError } from "./Errors.js"

/**
 * The life of a task: `pending` → `in_progress` → `success` | `failed` | `cancelled`. A retry
 * puts a task back to `pending` with a later `runAt`.
 *
 * @since 0.1.0
 * @category models
 */
export type TaskStatus = "pending" | "in_progress" | "success" | "failed" | "cancelled"

/**
 * All statuses, in life-cycle order.
 *
 * @since 0.1.0
 * @category models
 */
export const statuses: ReadonlyArray<TaskStatus> = ["pending", "in_progress", "success", "failed", "cancelled"]

/**
 * Statuses a task never leaves on its own.
 *
 * @since 0.1.0
 * @category models
 */
export const finishedStatuses: ReadonlyArray<TaskStatus> = ["success", "failed", "cancelled"]

/**
 * Whether a status is final.
 *
 * @since 0.1.0
 * @category models
 */
export const isFinished = (status: TaskStatus): boolean =>
  status === "success" || status === "failed" || status === "cancelled"

/**
 * An error as stored with a task: the tag of the error class, its message, and the error encoded
 * by its schema and serialized (null when it could not be).
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredError {
  readonly tag: string
  readonly message: string
  readonly data: Uint8Array | null
}

/**
 * A task as the backend stores it. Times are epoch milliseconds from Effect's `Clock`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskRecord {
  readonly id: string
  readonly queue: string
  readonly name: string
  readonly payload: Uint8Array
  readonly priority: number
  readonly status: TaskStatus
  readonly runAt: number
  readonly attempts: number
  readonly leaseOwner: string | null
  readonly leaseUntil: number | null
  readonly enqueuedAt: number
  readonly startedAt: number | null
  readonly finishedAt: number | null
  readonly result: Uint8Array | null
  readonly error: StoredError | null
  readonly traceback: string | null
  readonly key: string | null
  /**
   * When each failed attempt of the current run failed (epoch milliseconds, oldest first): what a
   * durable retry replays its `Schedule` with, so that it decides as `Effect.retry` would. Set by
   * the `Failed` and `Retrying` outcomes; empty on enqueue and after `retry`; kept by `Succeeded`
   * and `Released`. An attempt whose lease expired (its worker died) failed nothing: it adds none.
   */
  readonly failureTimes: ReadonlyArray<number>
}

/**
 * A task to insert. `id` is chosen by the caller (time-ordered); when `key` is set and a task with
 * the same key is `pending` or `in_progress`, nothing is inserted and that task's id is returned.
 *
 * The dedup invariant, on every backend: at most one `pending` or `in_progress` task per key. A
 * key is free again once its task finishes (success, failed, cancelled); `retry` of a finished
 * keyed task answers `key_held` (and changes nothing) while another live task holds the key.
 *
 * @since 0.1.0
 * @category models
 */
export interface NewTask {
  readonly id: string
  readonly queue: string
  readonly name: string
  readonly payload: Uint8Array
  readonly priority: number
  readonly runAt: number
  readonly key: string | null
}

/**
 * What `enqueue` did with one `NewTask`: the id of the task that now stands for it, and whether it
 * was inserted (false when a pending or running task with the same key was found).
 *
 * @since 0.1.0
 * @category models
 */
export interface Enqueued {
  readonly id: string
  readonly inserted: boolean
}

/**
 * The right to settle one attempt of a task. `attempt` is the task's `attempts` after the claim
 * and serves as the fencing token.
 *
 * @since 0.1.0
 * @category models
 */
export interface Lease {
  readonly id: string
  readonly owner: string
  readonly attempt: number
}

/**
 * How an attempt ended, as recorded by `settle`:
 * - `Succeeded`: `success` with the serialized result;
 * - `Failed`: `failed` for good, with the error and traceback;
 * - `Retrying`: back to `pending` at `runAt`, keeping the error and traceback of this attempt;
 *   `Failed` and `Retrying` also store `failureTimes` (the record's, plus this attempt's failure);
 * - `Released`: back to `pending` at once without counting the attempt (graceful shutdown).
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome =
  | { readonly _tag: "Succeeded"; readonly lease: Lease; readonly result: Uint8Array }
  | {
    readonly _tag: "Failed"
    readonly lease: Lease
    readonly error: StoredError
    readonly traceback: string | null
    readonly failureTimes: ReadonlyArray<number>
  }
  | {
    readonly _tag: "Retrying"
    readonly lease: Lease
    readonly runAt: number
    readonly error: StoredError
    readonly traceback: string | null
    readonly failureTimes: ReadonlyArray<number>
  }
  | { readonly _tag: "Released"; readonly lease: Lease }

/**
 * A claim request: up to `limit` due tasks of `queues`, in claim order (priority desc, runAt asc,
 * enqueue order), leased to `owner` for `leaseMillis`. Tasks whose lease expired count as due.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClaimRequest {
  readonly owner: string
  readonly queues: ReadonlyArray<string>
  readonly limit: number
  readonly leaseMillis: number
}

/**
 * What `cancel` found: `cancelled` (it was pending or running and is now cancelled), `finished`
 * (already success/failed/cancelled; unchanged), or `not_found`.
 *
 * @since 0.1.0
 * @category models
 */
export type CancelResult = "cancelled" | "finished" | "not_found"

/**
 * What `retry` found: `requeued` (a failed or cancelled task is pending again, attempts reset),
 * `not_finished` (pending or running; unchanged), `key_held` (the task has a dedup key that another
 * pending or running task holds now; unchanged: retrying it would put two live tasks under one
 * key, and the work the key stands for is already queued), or `not_found`.
 *
 * @since 0.1.0
 * @category models
 */
export type RetryResult = "requeued" | "not_finished" | "key_held" | "not_found"

/**
 * A filter for `list`. Results come in enqueue order, oldest first unless `newestFirst`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListFilter {
  readonly status?: TaskStatus | undefined
  readonly name?: string | undefined
  readonly queue?: string | undefined
  readonly limit?: number | undefined
  readonly newestFirst?: boolean | undefined
}

/**
 * A filter for `purge`: finished tasks (of `statuses`, default all finished ones) whose
 * `finishedAt` is before `finishedBefore`, in `queue` if given.
 *
 * @since 0.1.0
 * @category models
 */
export interface PurgeFilter {
  readonly statuses?: ReadonlyArray<"success" | "failed" | "cancelled"> | undefined
  readonly finishedBefore?: number | undefined
  readonly queue?: string | undefined
}

/**
 * Task counts per status.
 *
 * @since 0.1.0
 * @category models
 */
export type Stats = { readonly [S in TaskStatus]: number }

/**
 * Pushed notifications. Backends that can push across processes (PostgreSQL LISTEN/NOTIFY, Redis
 * pub/sub) deliver them from every process; in-process backends deliver them within the process.
 * They are hints: consumers always re-read the store, and poll as a fallback.
 * - `Ready`: tasks of `queue` may be due now (enqueued, retried, released, requeued);
 * - `Finished`: these tasks reached a final status;
 * - `Cancelled`: these tasks were cancelled; a worker running one interrupts it.
 *
 * @since 0.1.0
 * @category models
 */
export type BackendEvent =
  | { readonly _tag: "Ready"; readonly queue: string }
  | { readonly _tag: "Finished"; readonly ids: ReadonlyArray<string> }
  | { readonly _tag: "Cancelled"; readonly ids: ReadonlyArray<string> }

/**
 * What a backend can do beyond the port's common ground.
 *
 * @since 0.1.0
 * @category models
 */
export interface Capabilities {
  /**
   * Every change to the store, made by any process, is pushed to every subscriber as an event:
   * PostgreSQL (LISTEN/NOTIFY) and Redis (pub/sub) push across processes; memory has no other
   * process. Then result waiters wait on pushes and re-read the store only as a slow safety net.
   * False for SQLite: other processes on the same file change it without telling this one, so
   * waiters there poll.
   */
  readonly pushesAcrossProcesses: boolean
}

/**
 * The storage port.
 *
 * @since 0.1.0
 * @category models
 */
export interface Backend {
  /** A short name for logs and errors ("memory", "sqlite", ...). */
  readonly name: string
  /** What this backend can do beyond the common ground. */
  readonly capabilities: Capabilities
  /** Inserts tasks atomically (all or none), resolving dedup keys. One `Enqueued` per input, in order. */
  readonly enqueue: (tasks: ReadonlyArray<NewTask>) => Effect.Effect<ReadonlyArray<Enqueued>, BackendError>
  /** Atomically claims up to `limit` due tasks: `in_progress`, attempts + 1, leased to `owner`. */
  readonly claim: (request: ClaimRequest) => Effect.Effect<ReadonlyArray<TaskRecord>, BackendError>
  /** Extends the leases still held; returns the ids whose lease is lost (expired and taken, cancelled, finished). */
  readonly heartbeat: (
    leases: ReadonlyArray<Lease>,
    leaseMillis: number
  ) => Effect.Effect<ReadonlyArray<string>, BackendError>
  /** Records outcomes, each fenced by its lease; returns, per outcome, whether it was accepted. */
  readonly settle: (outcomes: ReadonlyArray<Outcome>) => Effect.Effect<ReadonlyArray<boolean>, BackendError>
  /** Cancels a pending or running task. */
  readonly cancel: (id: string) => Effect.Effect<CancelResult, BackendError>
  /**
   * Puts a failed or cancelled task back to pending, due now, with attempts reset, unless a live
   * task holds its dedup key (`key_held`).
   */
  readonly retry: (id: string) => Effect.Effect<RetryResult, BackendError>
  /** Reads one task. */
  readonly get: (id: string) => Effect.Effect<Option.Option<TaskRecord>, BackendError>
  /** Lists tasks. */
  readonly list: (filter: ListFilter) => Effect.Effect<ReadonlyArray<TaskRecord>, BackendError>
  /** Counts tasks per status, in one queue or all. */
  readonly stats: (queue?: string) => Effect.Effect<Stats, BackendError>
  /** Deletes finished tasks; returns how many. */
  readonly purge: (filter: PurgeFilter) => Effect.Effect<number, BackendError>
  /** The earliest `runAt` of a pending task (or lease expiry of a running one) in these queues. */
  readonly nextWakeAt: (queues: ReadonlyArray<string>) => Effect.Effect<Option.Option<number>, BackendError>
  /** Subscribes to events; the subscription lasts for the scope. */
  readonly subscribe: Effect.Effect<Queue.Dequeue<BackendEvent>, never, Scope.Scope>
}

/**
 * The `Backend` service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export const Backend: Context.Tag<Backend, Backend> = Context.GenericTag<Backend>("sitq/Backend")

/**
 * An empty `Stats`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const emptyStats = (): { -readonly [S in TaskStatus]: number } => ({
  pending: 0,
  in_progress: 0,
  success: 0,
  failed: 0,
  cancelled: 0
})
