/**
 * Group commit: many fibers submit one item each without waiting; one fiber flushes whatever has
 * accumulated as a single batch and hands each item's result to `onResult`. Under load a batch
 * holds everything that arrived while the previous flush ran, so a backend round trip is paid per
 * batch, not per task. (Effect's request batching only batches requests made within one
 * `Effect.forEach`, not across fibers.)
 *
 * `idle` waits until everything submitted so far has been flushed; closing the scope flushes what
 * is left before the flusher stops.
 *
 * @internal
 */
import type { Scope } from "effect"
import { Effect, Exit, Queue } from "effect"

/** @internal */
export interface Batcher<A> {
  readonly submit: (item: A) => void
  readonly idle: Effect.Effect<void>
}

/** @internal */
export const make = <A, B, E>(options: {
  readonly flush: (items: ReadonlyArray<A>) => Effect.Effect<ReadonlyArray<B>, E>
  readonly onResult: (item: A, result: Exit.Exit<B, E>) => Effect.Effect<void>
  readonly maxBatch: number
}): Effect.Effect<Batcher<A>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<A>()
    const idleLatch = yield* Effect.makeLatch(true)
    let pending = 0

    const flushOnce = Effect.flatMap(Queue.takeBetween(queue, 1, options.maxBatch), (chunk) => {
      const items = Array.from(chunk)
      return Effect.flatMap(Effect.exit(options.flush(items)), (exit) =>
        Effect.forEach(
          items,
          (item, i) => options.onResult(item, Exit.map(exit, (results) => results[i]!)),
          { discard: true }
        )).pipe(
          Effect.ensuring(Effect.sync(() => {
            pending -= items.length
            if (pending === 0) idleLatch.unsafeOpen()
          }))
        )
    })

    const idle = idleLatch.await
    yield* Effect.forkScoped(Effect.forever(flushOnce))
    // Added after the flusher, so it runs before the flusher is interrupted: flush what is left.
    yield* Effect.addFinalizer(() => idle)

    return {
      submit: (item) => {
        pending++
        idleLatch.unsafeClose()
        Queue.unsafeOffer(queue, item)
      },
      idle
    }
  })
