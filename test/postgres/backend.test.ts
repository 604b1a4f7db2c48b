/**
 * What is specific to the PostgreSQL engine (the port contract itself is `test/conformance/port.ts`,
 * bound in `port.test.ts`): a duplicate id fails the whole batch, purge batch size, events across
 * instances through NOTIFY, the application's transactions, concurrent migrations, retention,
 * `layerConfig`, connection failures.
 */
import { assert, describe, it } from "@effect/vitest"
import { createServer } from "node:net"
import type { AddressInfo, Server, Socket } from "node:net"
import { PgClient } from "@effect/sql-pg"
import { Config, Deferred, Effect, Exit, Fiber, Layer, Option, Queue, Redacted } from "effect"
import type * as B from "../../src/Backend.js"
import { Backend } from "../../src/Backend.js"
import { PostgresBackend } from "../../src/backends/postgres.js"
import { client, dropOnClose, freshLayer, freshSchema, url } from "./helpers.js"

const task = (id: string, extra: Partial<B.NewTask> = {}): B.NewTask => ({
  id,
  queue: "default",
  name: "t",
  payload: new TextEncoder().encode(id),
  priority: 2,
  runAt: 0,
  key: null,
  ...extra
})

const ids = (records: ReadonlyArray<{ readonly id: string }>) => records.map((r) => r.id)
const lease = (rec: B.TaskRecord): B.Lease => ({ id: rec.id, owner: rec.leaseOwner ?? "", attempt: rec.attempts })

/** A backend on `schema` with its own client, for tests that need two instances on one store. */
const backendOn = (schema: string, options: Omit<PostgresBackend.ClientOptions, "schema"> = {}) =>
  Effect.flatMap(client(), (pg) =>
    PostgresBackend.make({ ...options, schema }).pipe(Effect.provideService(PgClient.PgClient, pg)))

describe("PostgresBackend port", () => {
  it.effect("a batch is atomic: one bad row inserts nothing", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      yield* b.enqueue([task("dup")])
      const error = yield* Effect.flip(b.enqueue([task("new1"), task("dup"), task("new2")]))
      assert.strictEqual(error._tag, "BackendError")
      assert.strictEqual(error.reason, "Query")
      assert.deepStrictEqual(ids(yield* b.list({})), ["dup"])
    }).pipe(Effect.provide(freshLayer())))

  it.effect("purge deletes in batches", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      yield* b.enqueue(Array.from({ length: 25 }, (_, i) => task(`t${String(i).padStart(2, "0")}`)))
      const claimed = yield* b.claim({ owner: "w", queues: ["default"], limit: 25, leaseMillis: 1_000 })
      yield* b.settle(claimed.map((r) => ({ _tag: "Succeeded" as const, lease: lease(r), result: new Uint8Array() })))
      assert.strictEqual(yield* b.purge({}), 25)
      assert.strictEqual((yield* b.stats()).success, 0)
    }).pipe(Effect.provide(freshLayer({ purgeBatchSize: 7 }))))

  it.live("events: local at once, and from another instance through NOTIFY", () =>
    Effect.scoped(Effect.gen(function*() {
      const schema = freshSchema()
      const pg = yield* client()
      yield* dropOnClose(pg, schema)
      const one = yield* backendOn(schema)
      const two = yield* backendOn(schema)
      const local = yield* one.subscribe
      const remote = yield* two.subscribe
      yield* one.enqueue([task("e1"), task("e2", { queue: "other" })])
      const [c1] = yield* one.claim({ owner: "w", queues: ["default"], limit: 1, leaseMillis: 10_000 })
      yield* one.settle([{ _tag: "Succeeded", lease: lease(c1), result: new Uint8Array() }])
      yield* one.cancel("e2")
      const expected: Array<B.BackendEvent> = [
        { _tag: "Ready", queue: "default" },
        { _tag: "Ready", queue: "other" },
        { _tag: "Finished", ids: ["e1"] },
        { _tag: "Cancelled", ids: ["e2"] },
        { _tag: "Finished", ids: ["e2"] }
      ]
      const take = (q: Queue.Dequeue<B.BackendEvent>) =>
        Effect.map(Effect.all(expected.map(() => Queue.take(q))), (evs) =>
          evs.map((e) => ({ ...e })))
      const sortKey = (e: B.BackendEvent) => JSON.stringify(e)
      const gotLocal = yield* take(local).pipe(Effect.timeout("5 seconds"))
      assert.deepStrictEqual(gotLocal.map(sortKey).sort(), expected.map(sortKey).sort())
      const gotRemote = yield* take(remote).pipe(Effect.timeout("5 seconds"))
      assert.deepStrictEqual(gotRemote.map(sortKey).sort(), expected.map(sortKey).sort())
      // Our own notifications are not delivered twice.
      yield* Effect.sleep("200 millis")
      assert.strictEqual(yield* Queue.size(local), 0)
    })))

  it.live("layerClient: an enqueue inside the application's transaction commits or rolls back with it", () =>
    Effect.scoped(Effect.gen(function*() {
      const schema = freshSchema()
      const pg = yield* client()
      yield* dropOnClose(pg, schema)
      const ctx = yield* Layer.build(
        PostgresBackend.layerClient({ schema }).pipe(Layer.provide(Layer.succeed(PgClient.PgClient, pg)))
      )
      const b = yield* Effect.provide(Backend, ctx)
      const other = yield* backendOn(schema)
      const events = yield* other.subscribe
      const mine = yield* b.subscribe

      const failed = yield* pg.withTransaction(
        b.enqueue([task("rolled")]).pipe(Effect.zipRight(Effect.fail("abort" as const)))
      ).pipe(Effect.flip)
      assert.strictEqual(failed, "abort")
      assert.deepStrictEqual(yield* b.get("rolled"), Option.none())

      const gate = yield* Deferred.make<void>()
      const tx = yield* pg.withTransaction(
        Effect.gen(function*() {
          yield* b.enqueue([task("kept")])
          yield* pg.unsafe(`INSERT INTO "${schema}".tasks (id, queue, name, payload, priority, status, run_at, enqueued_at)
            VALUES ('app-row', 'default', 'x', '\\x', 2, 'pending', 0, 0)`).raw
          yield* Deferred.await(gate)
        })
      ).pipe(Effect.fork)
      yield* Effect.sleep("300 millis")
      // Not visible, and no wake-up, before commit.
      assert.deepStrictEqual(yield* other.get("kept"), Option.none())
      assert.strictEqual(yield* Queue.size(events), 0)
      assert.strictEqual(yield* Queue.size(mine), 0)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(tx)
      assert.strictEqual(Option.getOrThrow(yield* other.get("kept")).status, "pending")
      assert.deepStrictEqual(yield* Queue.take(events).pipe(Effect.timeout("5 seconds")), { _tag: "Ready", queue: "default" })
      assert.deepStrictEqual(yield* Queue.take(mine).pipe(Effect.timeout("5 seconds")), { _tag: "Ready", queue: "default" })
      assert.deepStrictEqual(ids(yield* other.list({})), ["kept", "app-row"])
    })))

  it.live("two processes' worth of concurrent starts migrate a fresh schema once", () =>
    Effect.scoped(Effect.gen(function*() {
      const schema = freshSchema()
      const pg = yield* client()
      yield* dropOnClose(pg, schema)
      const backends = yield* Effect.all(Array.from({ length: 4 }, () => backendOn(schema)), { concurrency: "unbounded" })
      yield* backends[0].enqueue([task("m")])
      for (const b of backends) assert.deepStrictEqual(ids(yield* b.list({})), ["m"])
      const rows = yield* pg.unsafe<{ migration_id: number }>(
        `SELECT migration_id FROM "${schema}".sitq_migrations`
      ).withoutTransform
      assert.deepStrictEqual(rows.map((r) => r.migration_id).sort(), [1, 2])
      // Starting again on a migrated schema is a no-op.
      yield* backendOn(schema)
    })))

  it.live("a start waits for the schema's advisory lock while another process migrates", () =>
    Effect.scoped(Effect.gen(function*() {
      const schema = freshSchema()
      const pg = yield* client()
      yield* dropOnClose(pg, schema)
      const gate = yield* Deferred.make<void>()
      const locked = yield* Deferred.make<void>()
      const holder = yield* pg.withTransaction(
        pg.unsafe("SELECT pg_advisory_xact_lock(hashtext($1))", [`sitq:${schema}`]).raw.pipe(
          Effect.zipRight(Deferred.succeed(locked, undefined)),
          Effect.zipRight(Deferred.await(gate))
        )
      ).pipe(Effect.fork)
      yield* Deferred.await(locked)
      const starting = yield* Effect.fork(backendOn(schema))
      yield* Effect.sleep("500 millis")
      assert.isNull(starting.unsafePoll())
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      const b = yield* Fiber.join(starting)
      assert.deepStrictEqual(yield* b.list({}), [])
    })))

  it.live("a schema that holds something else is a Schema error", () =>
    Effect.scoped(Effect.gen(function*() {
      const schema = freshSchema()
      const pg = yield* client()
      yield* dropOnClose(pg, schema)
      yield* pg.unsafe(`CREATE SCHEMA "${schema}"`).raw
      yield* pg.unsafe(`CREATE TABLE "${schema}".tasks (something int)`).raw
      const error = yield* Effect.flip(backendOn(schema))
      assert.strictEqual(error.reason, "Schema")
      const bad = yield* Effect.flip(backendOn("Not A Schema"))
      assert.strictEqual(bad.reason, "Schema")
    })))

  it.live("retention purges old finished tasks periodically", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      yield* b.enqueue([task("old"), task("live")])
      const [c] = yield* b.claim({ owner: "w", queues: ["default"], limit: 1, leaseMillis: 10_000 })
      yield* b.settle([{ _tag: "Succeeded", lease: lease(c), result: new Uint8Array() }])
      assert.strictEqual((yield* b.stats()).success, 1)
      // finishedOlderThan 200 ms, every 100 ms: gone within a second, the pending one stays.
      let success = 1
      for (let i = 0; i < 20 && success > 0; i++) {
        yield* Effect.sleep("100 millis")
        success = (yield* b.stats()).success
      }
      assert.strictEqual(success, 0)
      assert.deepStrictEqual(ids(yield* b.list({})), ["live"])
    }).pipe(Effect.provide(freshLayer({ retention: { finishedOlderThan: "200 millis", every: "100 millis" } }))))

  it.live("layerConfig reads the URL (redacted) and schema from Config", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      const pg = yield* client()
      yield* dropOnClose(pg, schema)
      const ctx = yield* Layer.build(PostgresBackend.layerConfig({
        url: Config.redacted("SITQ_TEST_POSTGRES_URL"),
        schema: Config.succeed(schema)
      }))
      const b = yield* Effect.provide(Backend, ctx)
      yield* b.enqueue([task("cfg")])
      const rows = yield* pg.unsafe<{ id: string }>(`SELECT id FROM "${schema}".tasks`).withoutTransform
      assert.deepStrictEqual(rows.map((r) => r.id), ["cfg"])
    }).pipe(Effect.scoped))

  describe("connection failures fail the layer with a typed BackendError, quickly", () => {
    const start = (options: PostgresBackend.Options) =>
      Effect.gen(function*() {
        const t0 = Date.now()
        const exit = yield* Effect.exit(Effect.scoped(Layer.build(PostgresBackend.layer(options))))
        assert.isTrue(Exit.isFailure(exit))
        const error = yield* Effect.flip(exit)
        assert.strictEqual(error._tag, "BackendError")
        assert.strictEqual(error.reason, "Connect")
        return { error, millis: Date.now() - t0 }
      })
    const parsed = new URL(url)

    it.live("a malformed URL (a misspelt scheme, another scheme, not a URL) fails at once, without the password", () =>
      Effect.gen(function*() {
        for (const bad of ["postgress://postgres:s3cret@127.0.0.1:5432/test", "http://127.0.0.1:5432/test", "not a url"]) {
          const { error, millis } = yield* start({ url: bad, connectTimeout: "3 seconds" })
          assert.match(error.message, /expected postgres:\/\/ or postgresql:\/\//)
          assert.notInclude(error.message, "s3cret")
          assert.isBelow(millis, 1_000)
        }
        const misspelt = yield* start({ url: Redacted.make("postgress://u:p@h/db") })
        assert.include(misspelt.error.message, `"postgress:"`)
      }))

    it.live("nothing listening on the port", () =>
      Effect.gen(function*() {
        const bad = new URL(url)
        bad.port = "1"
        const { millis } = yield* start({ url: bad.toString(), connectTimeout: "3 seconds" })
        assert.isBelow(millis, 3_500)
      }))

    it.live("a role that does not exist", () =>
      Effect.gen(function*() {
        const bad = new URL(url)
        bad.username = "sitq_no_such_role"
        const { error, millis } = yield* start({ url: Redacted.make(bad.toString()) })
        assert.include(error.message, "sitq_no_such_role")
        assert.isBelow(millis, 5_500)
      }))

    it.live("a database that does not exist", () =>
      Effect.gen(function*() {
        const bad = new URL(url)
        bad.pathname = "/sitq_no_such_db"
        const { error, millis } = yield* start({ url: bad.toString() })
        assert.include(error.message, "sitq_no_such_db")
        assert.isBelow(millis, 5_500)
      }))

    it.live("a server that accepts the connection but never answers times out at connectTimeout", () =>
      Effect.gen(function*() {
        // A TCP server that accepts and then stays silent: the connect itself succeeds, the
        // PostgreSQL handshake never completes.
        const sockets = new Set<Socket>()
        const server = yield* Effect.acquireRelease(
          Effect.async<Server>((resume) => {
            const srv = createServer((socket) => {
              sockets.add(socket)
            })
            srv.listen(0, "127.0.0.1", () => resume(Effect.succeed(srv)))
          }),
          (srv) =>
            Effect.async<void>((resume) => {
              for (const socket of sockets) socket.destroy()
              srv.close(() => resume(Effect.void))
            })
        )
        const port = (server.address() as AddressInfo).port
        const bad = new URL(url)
        bad.port = String(port)
        const { millis } = yield* start({ url: bad.toString(), connectTimeout: "1 second" })
        assert.isAtLeast(millis, 900)
        assert.isBelow(millis, 3_000)
        assert.isAtLeast(sockets.size, 1)
      }).pipe(Effect.scoped))

    it.live("a backend used after its layer closed fails with reason Closed", () =>
      Effect.gen(function*() {
        const schema = freshSchema()
        const pg = yield* client()
        yield* dropOnClose(pg, schema)
        const b = yield* Effect.scoped(
          Effect.flatMap(Layer.build(PostgresBackend.layer({ url, schema })), (ctx) => Effect.provide(Backend, ctx))
        )
        const error = yield* Effect.flip(b.stats())
        assert.strictEqual(error._tag, "BackendError")
        assert.strictEqual(error.reason, "Closed")
      }).pipe(Effect.scoped))

    it.live("the URL's own server works (sanity for the cases above)", () =>
      Effect.gen(function*() {
        assert.strictEqual(parsed.protocol, "postgres:")
        const schema = freshSchema()
        const pg = yield* client()
        yield* dropOnClose(pg, schema)
        const ctx = yield* Layer.build(PostgresBackend.layer({ url, schema }))
        const b = yield* Effect.provide(Backend, ctx)
        assert.deepStrictEqual(yield* b.stats(), { pending: 0, in_progress: 0, success: 0, failed: 0, cancelled: 0 })
        const schemas = yield* pg.unsafe<{ n: string }>(
          `SELECT count(*)::text AS n FROM pg_stat_activity WHERE application_name = 'sitq'`
        ).withoutTransform
        assert.isAtLeast(Number(schemas[0].n), 1)
      }).pipe(Effect.scoped))
  })
})
