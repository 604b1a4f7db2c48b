/**
 * Opening the SQLite backend: a bad file gives a typed `BackendError` and is left byte for byte as
 * it was (not a database, corrupt, another application's tables of the same names, no write
 * permission); a good one is created and migrated, also through the application's `SqlClient`,
 * where an enqueue joins the application's transaction.
 */
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Option, Queue } from "effect"
import { execFile } from "node:child_process"
import { createRequire } from "node:module"
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Backend } from "../../src/Backend.js"
import { SqliteBackend } from "../../src/backends/sqlite.js"
import { newTask, tempDir, tempFile } from "./helpers.js"

const failOpen = (filename: string, prefix?: string) =>
  Effect.flip(Effect.scoped(Layer.build(SqliteBackend.layer({ filename, prefix }))))

const sameBytes = (filename: string, before: Buffer) => assert.isTrue(readFileSync(filename).equals(before))

/** better-sqlite3 itself (it ships no types here): only what these tests use. */
const Database = createRequire(import.meta.url)("better-sqlite3") as new(filename: string) => {
  exec(sql: string): void
  prepare(sql: string): { all(): Array<Record<string, unknown>> }
  close(): void
}

/** A database made by "another application", in the default rollback-journal mode. */
const foreignDatabase = (filename: string, ddl: string) => {
  const db = new Database(filename)
  db.exec(ddl)
  db.close()
}

/**
 * Runs the open fixture as a user that cannot write what root created (when the tests run as
 * root, permissions do not stop root; CI runs as a normal user and needs no switch).
 */
const openAsUnprivileged = (filename: string) =>
  Effect.async<{ readonly ok: boolean; readonly reason?: string; readonly message?: string }, Error>((resume) => {
    const asRoot = process.getuid?.() === 0
    const child = execFile(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "../fixtures/sqlite-open.ts"), filename],
      {
        cwd: join(import.meta.dirname, "../.."),
        timeout: 30_000,
        env: { ...process.env, HOME: "/tmp", ...(asRoot ? { SITQ_FIXTURE_UID: "65534" } : {}) }
      },
      (error, stdout, stderr) => {
        const line = stdout.trim().split("\n").pop() ?? ""
        try {
          resume(Effect.succeed(JSON.parse(line)))
        } catch {
          resume(Effect.fail(new Error(`fixture failed: ${error?.message ?? ""}\n${stdout}\n${stderr}`)))
        }
      }
    )
    return Effect.sync(() => child.kill("SIGKILL"))
  })

describe("SqliteBackend.layer on a bad file", () => {
  it.scoped("a text file: Connect, untouched", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      writeFileSync(filename, "these are my notes, not a database\n".repeat(200))
      const before = readFileSync(filename)
      const error = yield* failOpen(filename)
      assert.strictEqual(error._tag, "BackendError")
      assert.strictEqual(error.reason, "Connect")
      assert.match(error.message, /not a SQLite database/)
      sameBytes(filename, before)
      assert.isFalse(existsSync(filename + "-wal"))
    }))

  it.scoped("a file shorter than a SQLite header: Connect, untouched", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      writeFileSync(filename, "hi\n")
      const error = yield* failOpen(filename)
      assert.strictEqual(error.reason, "Connect")
      assert.strictEqual(readFileSync(filename, "utf8"), "hi\n")
    }))

  it.scoped("a directory: Connect", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const error = yield* failOpen(dir)
      assert.strictEqual(error.reason, "Connect")
    }))

  it.scoped("a missing directory: Connect", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const error = yield* failOpen(join(dir, "no", "such", "dir", "tasks.db"))
      assert.strictEqual(error.reason, "Connect")
    }))

  it.scoped("a corrupt database: Connect, untouched", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      // a real sitq store, then its first page (the schema) overwritten with garbage
      yield* Effect.scoped(Effect.flatMap(Layer.build(SqliteBackend.layer({ filename })), (ctx) =>
        Effect.provide(Effect.flatMap(Backend, (b) => b.enqueue([newTask()])), ctx)))
      const bytes = readFileSync(filename)
      for (let i = 100; i < 4096; i++) bytes[i] = (i * 7) & 0xff
      writeFileSync(filename, bytes)
      const error = yield* failOpen(filename)
      assert.strictEqual(error.reason, "Connect")
      assert.match(error.message, /corrupt/)
      sameBytes(filename, bytes)
    }))

  it.scoped("another application's table named like sitq's: Schema, untouched", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      foreignDatabase(filename, "CREATE TABLE sitq_tasks (id INTEGER PRIMARY KEY, title TEXT); INSERT INTO sitq_tasks VALUES (1, 'mine')")
      const before = readFileSync(filename)
      const error = yield* failOpen(filename)
      assert.strictEqual(error.reason, "Schema")
      assert.match(error.message, /sitq_tasks/)
      sameBytes(filename, before)
      // another prefix on the same file is fine: sitq's objects get that prefix, the app's table stays
      yield* Effect.scoped(Layer.build(SqliteBackend.layer({ filename, prefix: "jobs_" })))
      const db = new Database(filename)
      const names = db.prepare("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite%' ORDER BY name").all().map((r) => r.name)
      const kept = db.prepare("SELECT title FROM sitq_tasks").all().map((r) => r.title)
      db.close()
      assert.deepStrictEqual(names, [
        "jobs_migrations",
        "jobs_tasks",
        "jobs_tasks_finished",
        "jobs_tasks_key",
        "jobs_tasks_leased",
        "jobs_tasks_pending",
        "jobs_tasks_pending_name",
        "sitq_tasks"
      ])
      assert.deepStrictEqual(kept, ["mine"])
    }))

  it.scoped("a migrations table of another shape: Schema, untouched", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      foreignDatabase(filename, "CREATE TABLE sitq_migrations (version TEXT)")
      const before = readFileSync(filename)
      const error = yield* failOpen(filename)
      assert.strictEqual(error.reason, "Schema")
      assert.match(error.message, /sitq_migrations/)
      sameBytes(filename, before)
    }))

  it.scoped("a migrations table recording migrations sitq does not know: Schema, untouched", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      foreignDatabase(
        filename,
        `CREATE TABLE sitq_migrations (migration_id integer PRIMARY KEY NOT NULL, created_at datetime NOT NULL
           DEFAULT current_timestamp, name VARCHAR(255) NOT NULL);
         INSERT INTO sitq_migrations (migration_id, name) VALUES (1, 'create_users')`
      )
      const before = readFileSync(filename)
      const error = yield* failOpen(filename)
      assert.strictEqual(error.reason, "Schema")
      sameBytes(filename, before)
    }))

  it.scoped("an index named like sitq's on another table: Schema, untouched", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      foreignDatabase(filename, "CREATE TABLE users (id INTEGER); CREATE INDEX sitq_tasks_key ON users (id)")
      const before = readFileSync(filename)
      const error = yield* failOpen(filename)
      assert.strictEqual(error.reason, "Schema")
      sameBytes(filename, before)
    }))

  it.scoped("a read-only file: Connect, untouched", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      chmodSync(dir, 0o777)
      const filename = join(dir, "ro.db")
      foreignDatabase(filename, "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me')")
      chmodSync(filename, 0o444)
      const before = readFileSync(filename)
      const result = yield* openAsUnprivileged(filename)
      assert.deepStrictEqual([result.ok, result.reason], [false, "Connect"])
      assert.match(result.message ?? "", /readonly|read-only|permission|unable to open/i)
      sameBytes(filename, before)
    }))

  it.scoped("a read-only directory: Connect (new file and existing file)", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const sub = join(dir, "ro")
      mkdirSync(sub)
      const existing = join(sub, "existing.db")
      foreignDatabase(existing, "CREATE TABLE notes (body TEXT)")
      chmodSync(existing, 0o644)
      chmodSync(sub, 0o555)
      chmodSync(dir, 0o755)
      const before = readFileSync(existing)
      const fresh = yield* openAsUnprivileged(join(sub, "new.db"))
      assert.deepStrictEqual([fresh.ok, fresh.reason], [false, "Connect"])
      assert.isFalse(existsSync(join(sub, "new.db")))
      const old = yield* openAsUnprivileged(existing)
      assert.deepStrictEqual([old.ok, old.reason], [false, "Connect"])
      sameBytes(existing, before)
      chmodSync(sub, 0o755)
    }))

  it.scoped("the unprivileged fixture does open a writable file (the checks above can fail)", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      chmodSync(dir, 0o777)
      const result = yield* openAsUnprivileged(join(dir, "ok.db"))
      assert.deepStrictEqual(result, { ok: true })
    }))
})

describe("SqliteBackend.layerClient", () => {
  it.scoped("an enqueue inside the application's transaction commits or rolls back with it", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      const ctx = yield* Layer.build(
        SqliteBackend.layerClient().pipe(Layer.provideMerge(SqliteClient.layer({ filename })))
      )
      const sql = Context.get(ctx, SqlClient.SqlClient)
      const backend = Context.get(ctx, Backend)
      yield* sql`CREATE TABLE orders (id TEXT PRIMARY KEY)`

      const failed = yield* Effect.flip(sql.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO orders (id) VALUES ('o1')`
        yield* backend.enqueue([newTask({ id: "mail-o1", key: "order-o1" })])
        assert.isTrue(Option.isSome(yield* backend.get("mail-o1")))
        return yield* Effect.fail("payment declined" as const)
      })))
      assert.strictEqual(failed, "payment declined")
      assert.isTrue(Option.isNone(yield* backend.get("mail-o1")))
      assert.deepStrictEqual(yield* sql`SELECT id FROM orders`, [])

      yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO orders (id) VALUES ('o2')`
        yield* backend.enqueue([newTask({ id: "mail-o2" }), newTask({ id: "mail-o2b" })])
      }))
      assert.strictEqual(Option.getOrThrow(yield* backend.get("mail-o2")).status, "pending")
      assert.strictEqual((yield* backend.stats()).pending, 2)
      assert.deepStrictEqual(yield* sql`SELECT id FROM orders`, [{ id: "o2" }])

      // a failed enqueue inside the transaction undoes only itself (a savepoint): the
      // application may handle the error and commit the rest
      yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO orders (id) VALUES ('o3')`
        const failed = yield* Effect.flip(
          backend.enqueue([newTask({ id: "mail-o3", key: "order-o3" }), newTask({ id: "mail-o2" })])
        )
        assert.strictEqual(failed.reason, "Query")
        yield* backend.enqueue([newTask({ id: "mail-o3b", key: "order-o3" })])
      }))
      assert.isTrue(Option.isNone(yield* backend.get("mail-o3")))
      assert.strictEqual(Option.getOrThrow(yield* backend.get("mail-o3b")).key, "order-o3")
      assert.deepStrictEqual(yield* sql`SELECT id FROM orders ORDER BY id`, [{ id: "o2" }, { id: "o3" }])

      // a second backend on the same file sees the committed tasks: they are in the file
      const own = yield* Effect.provide(Backend, yield* Layer.build(SqliteBackend.layer({ filename })))
      assert.strictEqual((yield* own.stats()).pending, 3)
    }))

  it.scoped("SqliteBackend.layer keeps to its own file inside a transaction of another client", () =>
    Effect.gen(function*() {
      const appFile = yield* tempFile
      const queueFile = yield* tempFile
      const ctx = yield* Layer.build(
        SqliteBackend.layer({ filename: queueFile }).pipe(Layer.merge(SqliteClient.layer({ filename: appFile })))
      )
      const sql = Context.get(ctx, SqlClient.SqlClient)
      const backend = Context.get(ctx, Backend)
      const failed = yield* Effect.flip(sql.withTransaction(Effect.gen(function*() {
        yield* backend.enqueue([newTask({ id: "own-1", key: "k" }), newTask({ id: "own-2" })])
        yield* backend.cancel("own-2")
        return yield* Effect.fail("app failure" as const)
      })))
      assert.strictEqual(failed, "app failure")
      // not part of the application's transaction: the tasks are in the queue's own file
      assert.strictEqual(Option.getOrThrow(yield* backend.get("own-1")).status, "pending")
      assert.strictEqual(Option.getOrThrow(yield* backend.get("own-2")).status, "cancelled")
      assert.deepStrictEqual(yield* sql`SELECT name FROM sqlite_master`, [])
    }))

  it.scoped("shares events with SqliteBackend.layer on the same file", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      const client = yield* Effect.provide(
        Backend,
        yield* Layer.build(SqliteBackend.layerClient().pipe(Layer.provide(SqliteClient.layer({ filename }))))
      )
      const own = yield* Effect.provide(Backend, yield* Layer.build(SqliteBackend.layer({ filename })))
      const events = yield* own.subscribe
      yield* client.enqueue([newTask({ queue: "mail" })])
      assert.deepStrictEqual(yield* Queue.take(events), { _tag: "Ready", queue: "mail" })
    }))
})
