/**
 * What is specific to the Redis engine (the port contract itself is `test/conformance/port.ts`,
 * bound in `port.test.ts`): a resent enqueue, retention by key expiry, events across processes
 * through pub/sub, a server that is not there, a foreign key layout, `layerConfig`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Duration, Effect, Exit, Layer, Option, Queue } from "effect"
import { Redis } from "ioredis"
import type { NewTask } from "../../src/Backend.js"
import { Backend } from "../../src/Backend.js"
import { RedisBackend } from "../../src/backends/redis.js"
import { BackendError } from "../../src/Errors.js"
import { deleteStore, freshLayer, freshPrefix, redisUrl } from "./layer.js"

let counter = 0
const task = (over: Partial<NewTask> = {}): NewTask => ({
  id: `t-${++counter}-${Math.random().toString(36).slice(2)}`,
  queue: "default",
  name: "job",
  payload: new Uint8Array([1, 2, 3]),
  priority: 2,
  runAt: 0,
  key: null,
  ...over
})

const lease = (id: string, owner: string, attempt: number) => ({ id, owner, attempt })

describe("RedisBackend port", () => {
  it.effect("the same id enqueued again (a command resent after a reconnect) stands for itself", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      const next = task({ key: "K" })
      assert.deepStrictEqual(yield* b.enqueue([next]), [{ id: next.id, inserted: true }])
      assert.deepStrictEqual(yield* b.enqueue([{ ...next, key: null }]), [{ id: next.id, inserted: false }])
      assert.strictEqual((yield* b.stats()).pending, 1)
    }).pipe(Effect.provide(freshLayer())))

  it.live("finished tasks expire after the retention period and leave no index entries", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      const [a, c] = [task(), task()]
      yield* b.enqueue([a, c])
      yield* b.claim({ owner: "w", queues: ["default"], limit: 2, leaseMillis: 10_000 })
      yield* b.settle([{ _tag: "Succeeded", lease: lease(a.id, "w", 1), result: new Uint8Array([1]) }])
      assert.isTrue(Option.isSome(yield* b.get(a.id)))
      yield* Effect.sleep("400 millis")
      assert.isTrue(Option.isNone(yield* b.get(a.id)))
      assert.deepStrictEqual(yield* b.stats(), { pending: 0, in_progress: 1, success: 0, failed: 0, cancelled: 0 })
      assert.deepStrictEqual((yield* b.list({})).map((r) => r.id), [c.id])
    }).pipe(Effect.provide(freshLayer({ retention: Duration.millis(200) }))))

  it.live("retention: a finished task's hash carries the expiry; Duration.infinity keeps it", () =>
    Effect.gen(function*() {
      const raw = yield* Effect.acquireRelease(
        Effect.sync(() => new Redis(redisUrl())),
        (c) => Effect.promise(() => c.quit().catch(() => "OK"))
      )
      for (const [retention, expect] of [[Duration.hours(2), "expiring"], [Duration.infinity, "kept"]] as const) {
        const prefix = freshPrefix()
        yield* Effect.addFinalizer(() => Effect.promise(() => deleteStore(prefix)))
        const ctx = yield* Layer.build(RedisBackend.layer({ url: redisUrl(), prefix, retention }))
        const b = ctx.unsafeMap.get(Backend.key) as Backend
        const t = task()
        yield* b.enqueue([t])
        yield* b.claim({ owner: "w", queues: ["default"], limit: 1, leaseMillis: 1000 })
        assert.strictEqual(yield* Effect.promise(() => raw.pttl(`sitq:{${prefix}}:t:${t.id}`)), -1)
        yield* b.settle([{ _tag: "Succeeded", lease: lease(t.id, "w", 1), result: new Uint8Array() }])
        const ttl = yield* Effect.promise(() => raw.pttl(`sitq:{${prefix}}:t:${t.id}`))
        if (expect === "kept") assert.strictEqual(ttl, -1)
        else assert.isTrue(ttl > 7_000_000 && ttl <= 7_200_000, `ttl ${ttl}`)
        // a retried task is live again: no expiry
        yield* b.cancel(t.id)
        const u = task()
        yield* b.enqueue([u])
        yield* b.cancel(u.id)
        assert.strictEqual(yield* b.retry(u.id), "requeued")
        assert.strictEqual(yield* Effect.promise(() => raw.pttl(`sitq:{${prefix}}:t:${u.id}`)), -1)
      }
    }).pipe(Effect.scoped))

  it.live("events reach other processes' subscribers through pub/sub", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      yield* Effect.addFinalizer(() => Effect.promise(() => deleteStore(prefix)))
      const ctxA = yield* Layer.build(RedisBackend.layer({ url: redisUrl(), prefix }))
      const ctxB = yield* Layer.build(RedisBackend.layer({ url: redisUrl(), prefix }))
      const a = ctxA.unsafeMap.get(Backend.key) as Backend
      const bb = ctxB.unsafeMap.get(Backend.key) as Backend
      const events = yield* bb.subscribe
      const t = task({ queue: "mail" })
      yield* a.enqueue([t])
      const first = yield* Queue.take(events).pipe(Effect.timeout("2 seconds"))
      assert.deepStrictEqual(first, { _tag: "Ready", queue: "mail" })
      yield* a.claim({ owner: "w", queues: ["mail"], limit: 1, leaseMillis: 1000 })
      yield* a.settle([{ _tag: "Succeeded", lease: lease(t.id, "w", 1), result: new Uint8Array() }])
      assert.deepStrictEqual(yield* Queue.take(events).pipe(Effect.timeout("2 seconds")), {
        _tag: "Finished",
        ids: [t.id]
      })
      const u = task()
      yield* a.enqueue([u])
      yield* Queue.take(events).pipe(Effect.timeout("2 seconds"))
      yield* a.cancel(u.id)
      const got = [
        yield* Queue.take(events).pipe(Effect.timeout("2 seconds")),
        yield* Queue.take(events).pipe(Effect.timeout("2 seconds"))
      ]
      assert.deepStrictEqual(got, [{ _tag: "Cancelled", ids: [u.id] }, { _tag: "Finished", ids: [u.id] }])
    }).pipe(Effect.scoped))

  it.live("a server that is not there fails the layer with a Connect BackendError, quickly", () =>
    Effect.gen(function*() {
      const started = yield* Effect.clockWith((c) => c.currentTimeMillis)
      const exit = yield* Layer.build(
        RedisBackend.layer({ url: "redis://127.0.0.1:1", connectTimeout: "2 seconds" })
      ).pipe(Effect.scoped, Effect.exit)
      const took = (yield* Effect.clockWith((c) => c.currentTimeMillis)) - started
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.instanceOf(error, BackendError)
        assert.strictEqual((error as BackendError).reason, "Connect")
      }
      assert.isBelow(took, 2_500)
    }))

  it.live("a malformed URL (http://, a misspelt scheme, not a URL) fails the layer at once with a Connect BackendError", () =>
    Effect.gen(function*() {
      for (const url of ["http://127.0.0.1:6379", "rediss//127.0.0.1:6379", "redis-cluster://u:s3cret@h:1", "not a url"]) {
        const error = yield* Layer.build(RedisBackend.layer({ url, connectTimeout: "2 seconds" })).pipe(
          Effect.scoped,
          Effect.flip
        )
        assert.instanceOf(error, BackendError)
        assert.strictEqual(error.reason, "Connect")
        assert.match(error.message, /expected redis:\/\/ or rediss:\/\//)
        assert.notInclude(error.message, "s3cret")
      }
      const http = yield* Layer.build(RedisBackend.layer({ url: "http://127.0.0.1:6379" })).pipe(Effect.scoped, Effect.flip)
      assert.include(http.message, `"http:"`)
    }))

  it.live("keys under the prefix that are not a sitq store of this layout fail the layer with reason Schema", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      yield* Effect.addFinalizer(() => Effect.promise(() => deleteStore(prefix)))
      const raw = yield* Effect.acquireRelease(
        Effect.sync(() => new Redis(redisUrl())),
        (c) => Effect.promise(() => c.quit().catch(() => "OK"))
      )
      const open = Layer.build(RedisBackend.layer({ url: redisUrl(), prefix })).pipe(Effect.scoped, Effect.flip)
      yield* Effect.promise(() => raw.set(`sitq:{${prefix}}:meta`, "something else"))
      const wrongType = yield* open
      assert.instanceOf(wrongType, BackendError)
      assert.strictEqual((wrongType as BackendError).reason, "Schema")
      yield* Effect.promise(() => raw.del(`sitq:{${prefix}}:meta`).then(() => raw.hset(`sitq:{${prefix}}:meta`, "version", "999")))
      const newer = yield* open
      assert.strictEqual((newer as BackendError).reason, "Schema")
      assert.match((newer as BackendError).message, /layout 999/)
      // and a store of this layout opens twice (the marker is kept)
      yield* Effect.promise(() => raw.del(`sitq:{${prefix}}:meta`))
      yield* Layer.build(RedisBackend.layer({ url: redisUrl(), prefix })).pipe(Effect.scoped)
      yield* Layer.build(RedisBackend.layer({ url: redisUrl(), prefix })).pipe(Effect.scoped)
      assert.strictEqual(yield* Effect.promise(() => raw.hget(`sitq:{${prefix}}:meta`, "version")), "1")
    }).pipe(Effect.scoped))

  it.live("layerConfig reads the options from Config", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      yield* Effect.addFinalizer(() => Effect.promise(() => deleteStore(prefix)))
      const provider = ConfigProvider.fromMap(new Map([["REDIS_URL", redisUrl()], ["PREFIX", prefix]]))
      const ctx = yield* Layer.build(
        RedisBackend.layerConfig(Config.all({ url: Config.redacted("REDIS_URL"), prefix: Config.string("PREFIX") }))
      ).pipe(Effect.withConfigProvider(provider))
      const b = ctx.unsafeMap.get(Backend.key) as Backend
      const t = task()
      yield* b.enqueue([t])
      const raw = yield* Effect.acquireRelease(
        Effect.sync(() => new Redis(redisUrl())),
        (c) => Effect.promise(() => c.quit().catch(() => "OK"))
      )
      assert.strictEqual(yield* Effect.promise(() => raw.exists(`sitq:{${prefix}}:t:${t.id}`)), 1)
    }).pipe(Effect.scoped))
})
