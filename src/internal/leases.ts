/**
 * Lease keeping: the leases a worker holds, extended every `interval` in one `heartbeat` round
 * trip. A lease is held from the claim until its attempt's outcome is recorded or refused (not
 * merely until the handler returns: the outcome write may be slow or retried, and a lease that
 * lapsed meanwhile would let another worker run the task again). Leases the backend reports lost
 * (cancelled, expired and taken, finished) are handed to `onLost`, which interrupts their tasks.
 *
 * @internal
 */
import type { Duration, Scope } from "effect"
import { Cause, Effect, Schedule } from "effect"
import type * as B from "../Backend.js"

/** A held lease and the name of its task (for logs). @internal */
export interface Held {
  readonly lease: B.Lease
  readonly name: string
}

/** @internal */
export interface LeaseKeeper {
  /** Holds a lease from now on (a newer attempt of the same task replaces an older one). */
  readonly hold: (lease: B.Lease, name: string) => void
  /** Stops holding this attempt's lease; returns what was held, if it still was. */
  readonly drop: (lease: B.Lease) => Held | undefined
  /** How many leases are held. */
  readonly size: () => number
}

/** @internal */
export const make = (options: {
  readonly backend: B.Backend
  readonly leaseMillis: number
  readonly interval: Duration.Duration
  readonly onLost: (ids: ReadonlyArray<string>) => Effect.Effect<void>
}): Effect.Effect<LeaseKeeper, never, Scope.Scope> =>
  Effect.gen(function*() {
    const held = new Map<string, Held>()

    yield* Effect.suspend(() => {
      const leases = Array.from(held.values(), (h) => h.lease)
      if (leases.length === 0) return Effect.void
      return Effect.flatMap(options.backend.heartbeat(leases, options.leaseMillis), (lost) => {
        // Only what is still held as sent: a newer attempt of the same task may have replaced it.
        const sent = new Map(leases.map((l) => [l.id, l.attempt]))
        const still = lost.filter((id) => held.get(id)?.lease.attempt === sent.get(id))
        return still.length === 0 ? Effect.void : options.onLost(still)
      })
    }).pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause)
          : Effect.logWarning("sitq: lease heartbeat failed; retrying").pipe(
            Effect.annotateLogs({ cause: Cause.pretty(cause) })
          )
      ),
      Effect.repeat(Schedule.spaced(options.interval)),
      Effect.forkScoped
    )

    return {
      hold: (lease, name) => {
        held.set(lease.id, { lease, name })
      },
      drop: (lease) => {
        const h = held.get(lease.id)
        if (h === undefined || h.lease.attempt !== lease.attempt || h.lease.owner !== lease.owner) return undefined
        held.delete(lease.id)
        return h
      },
      size: () => held.size
    }
  })
