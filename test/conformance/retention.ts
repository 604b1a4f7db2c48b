/**
 * Retention (a scheduled purge of finished tasks), checked under `TestClock` on a backend layer
 * built with `retention: { finishedOlderThan: "1 hour", every: "1 minute" }`.
 */
import { assert, it } from "@effect/vitest"
import type { Layer } from "effect"
import { Effect, Option, TestClock, TestServices } from "effect"
import type * as B from "../../src/Backend.js"
import { Backend } from "../../src/Backend.js"

const task = (id: string): B.NewTask => ({
  id,
  queue: "default",
  name: "job",
  payload: new Uint8Array([1]),
  priority: 2,
  runAt: 0,
  key: null
})

/** Lets the retention fiber (and real I/O) run: a few live milliseconds. */
const settle = TestServices.provideLive(Effect.sleep("20 millis"))

/** One test: finished tasks are purged once older than the retention, live ones stay. */
export const retentionSuite = (name: string, layer: Layer.Layer<B.Backend, unknown>) =>
  it.scoped(`retention (${name}): finished tasks older than the retention are purged on schedule`, () =>
    Effect.gen(function*() {
      const b = yield* Backend
      yield* b.enqueue([task("done"), task("failed"), task("live")])
      const claimed = yield* b.claim({ owner: "w", queues: ["default"], limit: 2, leaseMillis: 10 * 3_600_000 })
      yield* b.settle([
        { _tag: "Succeeded", lease: { id: "done", owner: "w", attempt: 1 }, result: new Uint8Array() },
        {
          _tag: "Failed",
          lease: { id: "failed", owner: "w", attempt: 1 },
          error: { tag: "E", message: "m", data: null },
          traceback: null,
          failureTimes: [0]
        }
      ])
      assert.strictEqual(claimed.length, 2)
      yield* TestClock.adjust("59 minutes")
      yield* settle
      assert.isTrue(Option.isSome(yield* b.get("done")))
      yield* TestClock.adjust("2 minutes")
      yield* settle
      for (let i = 0; i < 500 && Option.isSome(yield* b.get("failed")); i++) yield* settle
      assert.isTrue(Option.isNone(yield* b.get("done")))
      assert.isTrue(Option.isNone(yield* b.get("failed")))
      assert.strictEqual(Option.getOrThrow(yield* b.get("live")).status, "pending")
    }).pipe(Effect.provide(layer)))
