/**
 * The claim loop: claims due tasks in batches while slots are free and hands each record to
 * `start`. Idle, it waits for a wake-up (a push, a slot freed), the next known due time or
 * `pollInterval`, whichever comes first; it never spins. Once work is known to be waiting it
 * claims again only when a refill's worth of slots is free, so a busy worker pays one round trip
 * per batch rather than per task.
 *
 * Two policies:
 * - `run`: a failed claim is logged and tried again after `pollInterval`, forever;
 * - `drain`: ends when a claim made with every outcome recorded and nothing running finds nothing.
 *   A transient claim failure is retried on {@link drainClaimRetry}; one that persists (or is not
 *   transient) fails the drain with the `BackendError`, so a drain never reports done while due
 *   tasks wait behind a failing backend.
 *
 * @internal
 */
import type { Duration } from "effect"
import { Clock, Duration as D, Effect, Option, Schedule } from "effect"
import type * as B from "../Backend.js"
import type { BackendError } from "../Errors.js"

/** @internal */
export type Mode = "run" | "drain"

/**
 * How `drain` retries a claim that failed transiently: 5 times, 100 ms apart doubling (about 3 s
 * in all), then it fails.
 *
 * @internal
 */
export const drainClaimRetry: Schedule.Schedule<unknown, BackendError> = Schedule.exponential("100 millis").pipe(
  Schedule.intersect(Schedule.recurs(5))
)

/** Failures worth another claim: not a closed backend, nor a store that is not a sitq store. @internal */
export const isTransient = (error: BackendError): boolean => error.reason !== "Closed" && error.reason !== "Schema"

/** @internal */
export interface ClaimLoopOptions {
  readonly backend: B.Backend
  readonly mode: Mode
  readonly owner: string
  readonly queues: ReadonlyArray<string>
  /** The task names the worker has handlers for: the only ones it claims. */
  readonly names: ReadonlyArray<string>
  /** How many records the worker takes at once: its concurrency plus its prefetch. */
  readonly capacity: number
  readonly batchSize: number
  readonly leaseMillis: number
  readonly pollInterval: Duration.Duration
  /** How many records the worker holds (running or prefetched). */
  readonly running: () => number
  /** Takes one claimed record (running or prefetched: it counts in `running` at once). */
  readonly start: (record: B.TaskRecord) => void
  /** Waits until every outcome submitted so far is recorded. */
  readonly outcomesRecorded: Effect.Effect<void>
}

/** @internal */
export interface ClaimLoop {
  /** The loop; it returns only in `drain` mode, when nothing is left to do. */
  readonly loop: Effect.Effect<void, BackendError>
  /** Something may be due (a push): look now. */
  readonly wake: () => void
  /** A task left its slot: look again if that makes a difference. */
  readonly slotFreed: () => void
}

/** @internal */
export const make = (options: ClaimLoopOptions): Effect.Effect<ClaimLoop> =>
  Effect.map(Effect.makeLatch(false), (latch) => {
    const { backend, batchSize, capacity, leaseMillis, mode, names, owner, pollInterval, queues, running } = options
    const refill = Math.max(1, Math.floor(capacity / 4))
    let backlog = false

    const idleWait = Effect.gen(function*() {
      const next = yield* backend.nextWakeAt(queues, names).pipe(Effect.orElseSucceed(() => Option.none<number>()))
      const now = yield* Clock.currentTimeMillis
      const poll = D.toMillis(pollInterval)
      const wait = Option.match(next, {
        onNone: () => poll,
        onSome: (at) => Math.min(poll, Math.max(1, at - now))
      })
      yield* Effect.raceFirst(latch.await, Effect.sleep(D.millis(wait)))
    })

    const claim = (limit: number): Effect.Effect<ReadonlyArray<B.TaskRecord>, BackendError> => {
      const once = backend.claim({ owner, queues, names, limit, leaseMillis })
      return mode === "drain"
        ? once.pipe(
          Effect.tapError((error) =>
            Effect.logWarning("sitq: claim failed while draining; retrying").pipe(
              Effect.annotateLogs({ worker: owner, error: error.message })
            )
          ),
          Effect.retry({ schedule: drainClaimRetry, while: isTransient })
        )
        : once.pipe(Effect.catchAll((error) =>
          Effect.logWarning("sitq: claim failed; retrying").pipe(
            Effect.annotateLogs({ worker: owner, error: error.message }),
            Effect.zipRight(Effect.sleep(pollInterval)),
            Effect.as([] as ReadonlyArray<B.TaskRecord>)
          )
        ))
    }

    const loop = Effect.gen(function*() {
      let confirming = false
      while (true) {
        yield* latch.close
        const free = capacity - running()
        if (free <= 0 || (backlog && free < refill)) {
          yield* latch.await
          continue
        }
        // Draining, after a claim found nothing: record every outcome before looking once more, so
        // a retry that is due now is seen.
        if (confirming) yield* options.outcomesRecorded
        const limit = Math.min(free, batchSize)
        const claimed = yield* claim(limit)
        if (claimed.length > 0) confirming = false
        for (const rec of claimed) options.start(rec)
        backlog = claimed.length === limit
        if (backlog) continue
        if (mode === "drain") {
          // Done when a claim made with every outcome recorded and nothing running finds nothing.
          // (Claimed tasks may already have finished: a task fiber runs synchronously until it
          // first waits.)
          if (claimed.length === 0 && running() === 0) {
            if (confirming) return
            confirming = true
            continue
          }
          if (running() > 0) yield* latch.await
          continue
        }
        yield* idleWait
      }
    })

    return {
      loop,
      wake: () => latch.unsafeOpen(),
      slotFreed: () => {
        // Look again when it matters: a refill's worth of free slots while work is known to be
        // waiting, or nothing left running (a drain ends, an idle worker polls).
        const n = running()
        if (n === 0 || (backlog && capacity - n >= refill)) latch.unsafeOpen()
      }
    }
  })
