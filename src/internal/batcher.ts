/**
 * Group commit: many fibers submit one item each; one fiber flushes whatever has accumulated as a
 * single batch and answers each submitter. Under load a batch holds everything that arrived while
 * the previous flush ran, so a backend round trip is paid per batch, not per task. (Effect's
 * request batching only batches requests made within one `Effect.forEach`, not across fibers.)
 *
 * @internal
 */
import type { Scope } from "effect"
import { Deferred, Effect, Exit, Queue } from "effect"

/** @internal */
export const make = <A, B, E>(
  flush: (items: ReadonlyArray<A>) => Effect.Effect<ReadonlyArray<B>, E>,
  maxBatch: number
): Effect.Effect<(item: A) => Effect.Effect<B, E>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const queue = yield* Effect.acquireRelease(
      Queue.unbounded<readonly [A, Deferred.Deferred<B, E>]>(),
      Queue.shutdown
    )
    yield* Queue.takeBetween(queue, 1, maxBatch).pipe(
      Effect.flatMap((chunk) => {
        const entries = Array.from(chunk)
        return Effect.map(Effect.exit(flush(entries.map(([item]) => item))), (exit) => {
          entries.forEach(([, deferred], i) => {
            Deferred.unsafeDone(
              deferred,
              Exit.isSuccess(exit) ? Exit.succeed(exit.value[i]!) : exit as Exit.Exit<never, E>
            )
          })
        })
      }),
      Effect.forever,
      Effect.forkScoped
    )
    return (item: A) =>
      Effect.flatMap(Deferred.make<B, E>(), (deferred) =>
        Effect.zipRight(Queue.offer(queue, [item, deferred] as const), Deferred.await(deferred)))
  })
