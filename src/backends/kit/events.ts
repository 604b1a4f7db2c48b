/**
 * Event publishing as every backend does it: one `PubSub` per store (or per process for a store
 * shared in-process), the events of each operation published at once after it, `subscribe` for
 * the consumers (workers, result waiters).
 *
 * @internal
 */
import type { Scope } from "effect"
import { Effect, PubSub } from "effect"
import type * as B from "../../Backend.js"

/**
 * A store's event hub.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export interface Events {
  readonly publish: (events: ReadonlyArray<B.BackendEvent>) => Effect.Effect<void>
  readonly subscribe: B.Backend["subscribe"]
  /** Publishes without waiting (for callbacks of drivers outside Effect). */
  readonly unsafePublish: (event: B.BackendEvent) => void
}

/**
 * The hub over an existing `PubSub` (one shared by several backend instances).
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const fromPubSub = (pubsub: PubSub.PubSub<B.BackendEvent>): Events => ({
  publish: (events) => events.length === 0 ? Effect.void : Effect.asVoid(PubSub.publishAll(pubsub, events)),
  subscribe: PubSub.subscribe(pubsub),
  unsafePublish: (event) => {
    pubsub.unsafeOffer(event)
  }
})

/**
 * A fresh hub for the scope's lifetime.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const make: Effect.Effect<Events, never, Scope.Scope> = Effect.map(
  Effect.acquireRelease(PubSub.unbounded<B.BackendEvent>(), PubSub.shutdown),
  fromPubSub
)

/**
 * One `Ready` per distinct queue.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const ready = (queues: Iterable<string>): Array<B.BackendEvent> =>
  Array.from(new Set(queues), (queue) => ({ _tag: "Ready", queue }))

/**
 * The events of a settle: `Ready` per queue with a task back to pending, then one `Finished`.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const settled = (requeued: Iterable<string>, finished: ReadonlyArray<string>): Array<B.BackendEvent> => {
  const out = ready(requeued)
  if (finished.length > 0) out.push({ _tag: "Finished", ids: finished })
  return out
}

/**
 * The events of a cancel: `Cancelled` (a worker running it interrupts it), then `Finished`.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const cancelled = (ids: ReadonlyArray<string>): Array<B.BackendEvent> => [
  { _tag: "Cancelled", ids },
  { _tag: "Finished", ids }
]
