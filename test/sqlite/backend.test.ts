/**
 * What is specific to the SQLite engine (the port contract itself is `test/conformance/port.ts`,
 * bound in `port.test.ts`): batches chunked under SQLite's variable limit and atomic across chunks,
 * events shared by every layer opened on one file, durability across re-opening it, the Closed
 * error after the layer closed, several stores in one file.
 */
import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Layer, Option, Queue } from "effect"
import type * as B from "../../src/Backend.js"
import { Backend } from "../../src/Backend.js"
import { SqliteBackend } from "../../src/backends/sqlite.js"
import { freshLayer, newTask, tempFile } from "./helpers.js"

const claimAll = (b: B.Backend, owner = "w1", leaseMillis = 1000, limit = 100) =>
  b.claim({ owner, queues: ["default"], limit, leaseMillis })
const must = <A>(o: Option.Option<A>): A => Option.getOrThrow(o)

describe("SqliteBackend port", () => {
  it.effect("a batch is all or nothing: a failing row leaves none of the batch", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      yield* b.enqueue([newTask({ id: "taken" })])
      const batch = Array.from({ length: 1200 }, (_, i) => newTask({ id: `b${i}`, key: i % 3 === 0 ? `key${i}` : null }))
      batch[1100] = newTask({ id: "taken" })
      const error = yield* Effect.flip(b.enqueue(batch))
      assert.strictEqual(error._tag, "BackendError")
      assert.strictEqual(error.reason, "Query")
      assert.deepStrictEqual(yield* b.stats(), { pending: 1, in_progress: 0, success: 0, failed: 0, cancelled: 0 })
    }).pipe(Effect.provide(freshLayer)))

  it.effect("large batches are chunked under SQLite's variable limit, in order", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      const batch = Array.from({ length: 12_345 }, (_, i) => newTask({ id: `big${String(i).padStart(6, "0")}` }))
      const out = yield* b.enqueue(batch)
      assert.strictEqual(out.length, 12_345)
      assert.isTrue(out.every((r, i) => r.inserted && r.id === batch[i].id))
      assert.strictEqual((yield* b.stats()).pending, 12_345)
      const firsts = yield* claimAll(b, "w", 1000, 3)
      assert.deepStrictEqual(firsts.map((r) => r.id), ["big000000", "big000001", "big000002"])
      const keyed = Array.from({ length: 2000 }, (_, i) => newTask({ id: `kk${i}`, key: `K${i % 1500}` }))
      const res = yield* b.enqueue(keyed)
      assert.strictEqual(res.filter((r) => r.inserted).length, 1500)
      assert.deepStrictEqual(res[1700], { id: "kk200", inserted: false })
    }).pipe(Effect.provide(freshLayer)))

  it.scoped("events are shared by every layer opened on the same file in this process", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      const producer = yield* Layer.build(SqliteBackend.layer({ filename }))
      const consumer = yield* Layer.build(SqliteBackend.layer({ filename }))
      const other = yield* Layer.build(SqliteBackend.layer({ filename, prefix: "other_" }))
      const events = yield* consumer.pipe((ctx) => Effect.provide(Effect.flatMap(Backend, (b) => b.subscribe), ctx))
      const otherEvents = yield* Effect.provide(Effect.flatMap(Backend, (b) => b.subscribe), other)
      yield* Effect.provide(Effect.flatMap(Backend, (b) => b.enqueue([newTask({ id: "e1" })])), producer)
      assert.deepStrictEqual(yield* Queue.take(events), { _tag: "Ready", queue: "default" })
      assert.strictEqual(yield* Queue.size(otherEvents), 0)
      const seen = yield* Effect.provide(Effect.flatMap(Backend, (b) => b.get("e1")), consumer)
      assert.isTrue(Option.isSome(seen))
    }))

  it.scoped("tasks survive closing and re-opening the file; migrations run once", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      yield* Effect.scoped(
        Effect.flatMap(Layer.build(SqliteBackend.layer({ filename })), (ctx) =>
          Effect.provide(Effect.flatMap(Backend, (b) => b.enqueue([newTask({ id: "durable", key: "D" })])), ctx))
      )
      const ctx = yield* Layer.build(SqliteBackend.layer({ filename }))
      const b = yield* Effect.provide(Backend, ctx)
      assert.strictEqual(must(yield* b.get("durable")).status, "pending")
      assert.deepStrictEqual(yield* b.enqueue([newTask({ id: "dup", key: "D" })]), [{ id: "durable", inserted: false }])
    }))

  it.scoped("after the layer closed, operations fail with a typed Closed error", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      const b = yield* Effect.scoped(Effect.flatMap(Layer.build(SqliteBackend.layer({ filename })), (ctx) =>
        Effect.provide(Effect.tap(Backend, (b) => b.enqueue([newTask({ id: "before" })])), ctx)))
      const get = yield* Effect.flip(b.get("before"))
      assert.deepStrictEqual([get._tag, get.reason], ["BackendError", "Closed"])
      const claim = yield* Effect.flip(claimAll(b))
      assert.strictEqual(claim.reason, "Closed")
    }))

  it.scoped("several stores share one file under different prefixes", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      const one = yield* Effect.provide(Backend, yield* Layer.build(SqliteBackend.layer({ filename })))
      const two = yield* Effect.provide(Backend, yield* Layer.build(SqliteBackend.layer({ filename, prefix: "two_" })))
      yield* one.enqueue([newTask({ id: "only-in-one" })])
      assert.strictEqual((yield* one.stats()).pending, 1)
      assert.strictEqual((yield* two.stats()).pending, 0)
      const bad = yield* Effect.flip(
        Layer.build(SqliteBackend.layer({ filename, prefix: "bad-prefix; DROP" }))
      )
      assert.strictEqual(bad.reason, "Schema")
    }))

  it.scoped("layerConfig reads the options from Config", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      const provider = ConfigProvider.fromMap(new Map([["SITQ_DB", filename], ["SITQ_PREFIX", "cfg_"]]))
      const ctx = yield* Layer.build(
        SqliteBackend.layerConfig({ filename: Config.string("SITQ_DB"), prefix: Config.string("SITQ_PREFIX") })
      ).pipe(Effect.withConfigProvider(provider))
      const b = yield* Effect.provide(Backend, ctx)
      yield* b.enqueue([newTask({ id: "cfg" })])
      const again = yield* Effect.provide(Backend, yield* Layer.build(SqliteBackend.layer({ filename, prefix: "cfg_" })))
      assert.strictEqual(must(yield* again.get("cfg")).status, "pending")
      const missing = yield* Effect.flip(
        Layer.build(SqliteBackend.layerConfig({ filename: Config.string("SITQ_NO_SUCH_VAR") })).pipe(
          Effect.withConfigProvider(provider)
        )
      )
      assert.strictEqual(missing._tag, "ConfigError")
    }))
})
