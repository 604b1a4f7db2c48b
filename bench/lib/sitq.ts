/**
 * The sitq side of every benchmark: the same workload against any backend layer.
 * - enqueue one at a time, and with enqueueMany (batches of 1,000);
 * - processing of N no-op tasks at each concurrency (tasks/s, from the first claim to the last
 *   recorded outcome);
 * - enqueue-to-start latency of one task for an idle worker in this process (p50, p99).
 */
import type { Layer } from "effect"
import { Deferred, Duration, Effect, Fiber, Layer as L, Schema } from "effect"
import type { Backend } from "../../src/index.js"
import { Serializer, Task, TaskQueue, Worker } from "../../src/index.js"

export const Noop = Task.make("noop", { payload: Schema.Struct({ i: Schema.Number }) })
export const NoopLive = Task.handler(Noop, () => Effect.void)

export interface Figures {
  readonly enqueueOne: number
  readonly enqueueMany: number
  readonly processing: Record<number, number>
  readonly latency: { readonly p50: number; readonly p99: number }
  /** Processing runs stopped at `SitqWorkload.capSeconds`: tasks finished by then, per concurrency. */
  readonly capped?: Record<number, number>
}

export const percentile = (xs: ReadonlyArray<number>, p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = performance.now()
    const value = yield* effect
    return { value, seconds: (performance.now() - start) / 1000 }
  })

export interface SitqWorkload {
  readonly enqueueOne: number
  readonly tasks: number
  readonly concurrencies: ReadonlyArray<number>
  readonly latencySamples: number
  /** Optional bound on each processing run: stop after this long and report the rate so far. */
  readonly capSeconds?: number | undefined
  /** The workers' `prefetch` (default: the Worker's own default). */
  readonly prefetch?: number | undefined
  /** Only the processing rows (a tuned column next to the default one). */
  readonly processingOnly?: boolean | undefined
}

/** Runs the workload; `fresh` must give an empty store each time it is built. */
export const runSitq = (fresh: Layer.Layer<Backend.Backend, unknown>, w: SitqWorkload) => {
  const env = TaskQueue.layer.pipe(L.provideMerge(fresh), L.provideMerge(Serializer.json))
  const inEnv = <A, E>(effect: Effect.Effect<A, E, TaskQueue | Backend.Backend | Serializer>) =>
    Effect.scoped(Effect.provide(effect, env))

  const workerOptions = w.prefetch === undefined ? {} : { prefetch: w.prefetch }
  return Effect.gen(function*() {
    const enqueueOne = w.processingOnly ? 0 : yield* inEnv(Effect.gen(function*() {
      const queue = yield* TaskQueue
      const { seconds } = yield* timed(Effect.forEach(
        Array.from({ length: w.enqueueOne }, (_, i) => i),
        (i) => queue.enqueue(Noop, { i }),
        { discard: true }
      ))
      return w.enqueueOne / seconds
    }))

    const enqueueMany = w.processingOnly ? 0 : yield* inEnv(Effect.gen(function*() {
      const queue = yield* TaskQueue
      const payloads = Array.from({ length: w.tasks }, (_, i) => ({ i }))
      const { seconds } = yield* timed(Effect.forEach(
        Array.from({ length: Math.ceil(w.tasks / 1000) }, (_, b) => payloads.slice(b * 1000, (b + 1) * 1000)),
        (chunk) => queue.enqueueMany(Noop, chunk),
        { discard: true }
      ))
      return w.tasks / seconds
    }))

    const processing: Record<number, number> = {}
    const capped: Record<number, number> = {}
    for (const concurrency of w.concurrencies) {
      processing[concurrency] = yield* inEnv(Effect.gen(function*() {
        const queue = yield* TaskQueue
        const payloads = Array.from({ length: w.tasks }, (_, i) => ({ i }))
        for (let b = 0; b < w.tasks; b += 1000) yield* queue.enqueueMany(Noop, payloads.slice(b, b + 1000))
        if (w.capSeconds !== undefined) {
          let done = 0
          const Counted = Task.handler(Noop, () => Effect.sync(() => void done++))
          let atCap: number | undefined
          const watcher = yield* Effect.fork(Effect.sleep(Duration.seconds(w.capSeconds)).pipe(
            Effect.andThen(Effect.sync(() => void (atCap = done)))
          ))
          const { seconds, value } = yield* timed(Effect.timeoutOption(
            Worker.drain({ handlers: [Counted], concurrency, ...workerOptions }),
            Duration.seconds(w.capSeconds)
          ))
          yield* Fiber.interrupt(watcher)
          if (value._tag === "None") {
            capped[concurrency] = atCap ?? done
            return (atCap ?? done) / w.capSeconds
          }
          if (value.value.succeeded !== w.tasks) {
            return yield* Effect.dieMessage(`processed ${value.value.succeeded} of ${w.tasks}`)
          }
          return w.tasks / seconds
        }
        const { seconds, value } = yield* timed(Worker.drain({ handlers: [NoopLive], concurrency, ...workerOptions }))
        if (value.succeeded !== w.tasks) {
          return yield* Effect.dieMessage(`processed ${value.succeeded} of ${w.tasks}`)
        }
        return w.tasks / seconds
      }))
    }

    const latency = w.processingOnly ? { p50: 0, p99: 0 } : yield* Effect.scoped(Effect.provide(Effect.gen(function*() {
      const queue = yield* TaskQueue
      let started: Deferred.Deferred<number> | undefined
      const Ping = Task.make("ping", { payload: Schema.Struct({ i: Schema.Number }) })
      const PingLive = Task.handler(Ping, () =>
        started === undefined ? Effect.void : Deferred.succeed(started, performance.now()))
      yield* Worker.make({ handlers: [PingLive], concurrency: 1, pollInterval: "1 second" })
      yield* Effect.sleep("50 millis")
      const samples: Array<number> = []
      for (let i = 0; i < w.latencySamples; i++) {
        const d = yield* Deferred.make<number>()
        started = d
        const t0 = performance.now()
        yield* queue.enqueue(Ping, { i })
        const t1 = yield* Deferred.await(d)
        samples.push(t1 - t0)
        yield* Effect.sleep("2 millis")
      }
      return { p50: percentile(samples, 50), p99: percentile(samples, 99) }
    }), env))

    return { enqueueOne, enqueueMany, processing, latency, capped } satisfies Figures
  })
}

export const fmt = (n: number): string =>
  n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(n >= 10 ? 1 : 2)
