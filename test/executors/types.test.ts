/**
 * Type-level guarantees of `sitq/executors`, checked by `tsc` and vitest's expectTypeOf: a pool
 * handler's requirement is its pool, which shows in the worker layer's type until a pool layer
 * provides it.
 */
import { describe, expectTypeOf, it } from "@effect/vitest"
import type { Layer } from "effect"
import { Schema } from "effect"
import type { ExecutorError } from "../../src/executors.js"
import { ProcessPool, ThreadPool } from "../../src/executors.js"
import type { Backend, Handler, InvalidOptions, Serializer } from "../../src/index.js"
import { Task, Worker } from "../../src/index.js"

const Fib = Task.make("fib", { payload: Schema.Number, success: Schema.Number })
const Hash = Task.make("hash", { payload: Schema.String, success: Schema.String })
const module = new URL("file:///work.js")

describe("executors: types", () => {
  it("pool handlers require their pool, and Worker.layer shows it", () => {
    const FibLive = ProcessPool.handler(Fib, { module, export: "fib" })
    const HashLive = ThreadPool.handler(Hash, { module })
    expectTypeOf(FibLive).toEqualTypeOf<Handler<ProcessPool>>()
    expectTypeOf(HashLive).toEqualTypeOf<Handler<ThreadPool>>()

    const worker = Worker.layer({ handlers: [FibLive, HashLive] })
    expectTypeOf(worker).toEqualTypeOf<Layer.Layer<Worker, InvalidOptions, Backend.Backend | Serializer | ProcessPool | ThreadPool>>()

    expectTypeOf(ProcessPool.layer({ size: 2 })).toEqualTypeOf<Layer.Layer<ProcessPool, ExecutorError>>()
    expectTypeOf(ThreadPool.layer({ size: 2, resourceLimits: { maxOldGenerationSizeMb: 64 } })).toEqualTypeOf<
      Layer.Layer<ThreadPool, ExecutorError>
    >()
  })
})
