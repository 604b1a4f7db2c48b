/**
 * The sitq half of the cross-process latency row: the task the producer enqueues, the worker the
 * child runs, and the producer side (a `TaskQueue` on its own backend layer).
 */
import { Duration, Effect, Layer, ManagedRuntime, Schema } from "effect"
import type { Backend } from "../../src/index.js"
import { Serializer, Task, TaskQueue, Worker } from "../../src/index.js"
import type { ChildSpec, SystemResult, Workload } from "./harness.js"
import { attempt, crossProcess, newResult, record } from "./harness.js"
import { runSitq } from "./sitq.js"

export const Ping = Task.make("bench_ping", { payload: Schema.Struct({ i: Schema.Number }) })

/** A worker (concurrency 1) whose handler calls `started(i)`; runs for the returned runtime's life. */
export const pingWorker = (
  backend: Layer.Layer<Backend.Backend, unknown>,
  pollMs: number,
  started: (i: number) => void
) =>
  ManagedRuntime.make(
    Worker.layer({
      handlers: [Task.handler(Ping, ({ i }) => Effect.sync(() => started(i)))],
      concurrency: 1,
      pollInterval: Duration.millis(pollMs)
    }).pipe(Layer.provide(backend), Layer.provide(Serializer.json))
  )

/** Cross-process latency of sitq: this process enqueues on `backend`, a child runs `spec`. */
export const sitqCrossProcess = async (
  backend: Layer.Layer<Backend.Backend, unknown>,
  spec: ChildSpec,
  samples: number,
  opts: { readonly timeoutMs: number; readonly gapMs: number }
): Promise<Array<number>> => {
  const producer = ManagedRuntime.make(
    TaskQueue.layer.pipe(Layer.provideMerge(backend), Layer.provideMerge(Serializer.json))
  )
  try {
    const queue = await producer.runPromise(TaskQueue)
    return await crossProcess(spec, samples, (i) => producer.runPromise(queue.enqueue(Ping, { i })), opts)
  } finally {
    await producer.dispose()
  }
}

/**
 * The sitq column of a side-by-side table: `runSitq` on `fresh` (a new empty store per build) for
 * the enqueue, processing and same-process rows, then the cross-process row on `cross`.
 */
export const sitqColumn = async (
  w: Workload,
  fresh: Layer.Layer<Backend.Backend, unknown>,
  cross: () => { readonly backend: Layer.Layer<Backend.Backend, unknown>; readonly spec: ChildSpec }
): Promise<SystemResult> => {
  const r = newResult("sitq")
  await attempt(r, "workload", async () => {
    const f = await Effect.runPromise(runSitq(fresh, {
      enqueueOne: w.enqueueOne,
      tasks: w.tasks,
      concurrencies: w.concurrencies,
      latencySamples: w.sameSamples,
      capSeconds: w.capSeconds
    }))
    for (const [c, n] of Object.entries(f.capped ?? {})) {
      r.notes.push(
        `processing c${c}: stopped at the ${w.capSeconds} s cap after ${n.toLocaleString("en-US")} of ${w.tasks.toLocaleString("en-US")} tasks; rate over that time`
      )
    }
    r.values.enqueueOne = f.enqueueOne
    r.values.enqueueMany = f.enqueueMany
    r.values.c1 = f.processing[w.concurrencies[0]]
    r.values.c50 = f.processing[w.concurrencies[1]]
    r.values.sameP50 = f.latency.p50
    r.values.sameP99 = f.latency.p99
  })
  await attempt(r, "cross-process latency", async () => {
    const { backend, spec } = cross()
    record(r, "cross", await sitqCrossProcess(backend, spec, w.crossSamples, { timeoutMs: 10_000, gapMs: 5 }))
  })
  return r
}

/**
 * sitq's tuned column: the processing rows only, with workers holding `prefetch` tasks beyond the
 * running ones (the setting docs/guides.md recommends for many short tasks).
 */
export const sitqPrefetchColumn = async (
  w: Workload,
  fresh: Layer.Layer<Backend.Backend, unknown>,
  prefetch: number
): Promise<SystemResult> => {
  const r = newResult(`sitq (prefetch ${prefetch})`)
  await attempt(r, "processing", async () => {
    const f = await Effect.runPromise(runSitq(fresh, {
      enqueueOne: 0,
      tasks: w.tasks,
      concurrencies: w.concurrencies,
      latencySamples: 0,
      capSeconds: w.capSeconds,
      prefetch,
      processingOnly: true
    }))
    r.values.c1 = f.processing[w.concurrencies[0]]
    r.values.c50 = f.processing[w.concurrencies[1]]
  })
  return r
}
