/**
 * The `sitq` bin as a real process: the suite on a SQLite file, and every way of calling it wrong
 * (bad flags, missing or unreachable stores, a backend not in this build) giving one line on
 * stderr and a non-zero exit.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Serializer } from "../../src/Serializer.js"
import { seed } from "./seed.js"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { SqliteBackend } from "../../src/backends/sqlite.js"
import { lines, sitq, start } from "./run.js"
import { suite } from "./suite.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "sitq-cli-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

suite(
  "SQLite",
  Effect.map(tempDir, (dir) => {
    const filename = Path.join(dir, "tasks.db")
    return { flags: ["--backend", `sqlite:${filename}`], layer: SqliteBackend.layer({ filename }) }
  })
)

describe("sitq CLI errors", () => {
  it.live("bad flags and stores that cannot be used give one line on stderr and a non-zero exit", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const db = Path.join(dir, "tasks.db")
      yield* Effect.scoped(Effect.void.pipe(Effect.provide(SqliteBackend.layer({ filename: db }))))
      const cases: ReadonlyArray<{ args: ReadonlyArray<string>; code: number; line: RegExp; env?: Record<string, string> }> = [
        { args: ["stats"], code: 2, line: /^sitq: Expected to find option: '--backend'$/ },
        { args: ["list", "--backend", `sqlite:${db}`, "--bogus"], code: 2, line: /^sitq: Received unknown argument: '--bogus'$/ },
        { args: ["list", "--bogus", "--backend", `sqlite:${db}`], code: 2, line: /^sitq: an unknown flag comes before '--backend' \(see sitq list --help\)$/ },
        { args: ["list", "--backend", `sqlite:${db}`, "--status", "done"], code: 2, line: /^sitq: Expected one of the following cases: pending, in_progress/ },
        { args: ["list", "--backend", `sqlite:${db}`, "--limit", "0"], code: 2, line: /^sitq: --limit must be at least 1$/ },
        { args: ["purge", "--backend", `sqlite:${db}`], code: 2, line: /^sitq: purge needs --older-than <duration>, or --all$/ },
        { args: ["purge", "--backend", `sqlite:${db}`, "--older-than", "soon"], code: 2, line: /^sitq: 'soon' is not a duration/ },
        { args: ["stats", "--backend", "mysql://127.0.0.1/x"], code: 2, line: /^sitq: --backend 'mysql:\/\/127.0.0.1\/x' is not a backend URL/ },
        { args: ["stats"], env: { SITQ_BACKEND: `sqlite:${Path.join(dir, "missing.db")}` }, code: 1, line: /^sitq: sqlite: no such file: .*missing\.db$/ },
        { args: ["stats", "--backend", "postgres://postgres@127.0.0.1:1/x", "--connect-timeout", "3"], code: 1, line: /^sitq: postgres: cannot connect: .*ECONNREFUSED/ },
        { args: ["stats", "--backend", "redis://127.0.0.1:1", "--connect-timeout", "3"], code: 1, line: /^sitq: redis: cannot connect.*ECONNREFUSED/ },
        ...(Fs.existsSync(Path.resolve(import.meta.dirname, "../../src/backends/nats.ts"))
          ? [{ args: ["stats", "--backend", "nats://127.0.0.1:1", "--connect-timeout", "3"], code: 1, line: /^sitq: nats: cannot connect/ }]
          : [{ args: ["stats", "--backend", "nats://127.0.0.1:4222"], code: 1, line: /^sitq: the nats backend is not available in this build/ }])
      ]
      const results = yield* Effect.forEach(cases, (c) => Effect.promise(() => sitq(c.args, c.env ?? {})), {
        concurrency: 4
      })
      cases.forEach((c, i) => {
        const r = results[i]!
        const what = `sitq ${c.args.join(" ")}`
        assert.strictEqual(r.code, c.code, `${what}: exit ${r.code}, stderr ${r.stderr}`)
        assert.strictEqual(lines(r.stderr).length, 1, `${what}: stderr ${r.stderr}`)
        assert.match(lines(r.stderr)[0]!, c.line, what)
        assert.strictEqual(r.stdout, "", what)
      })
    })), { timeout: 400_000 })
})

describe("sitq dashboard", () => {
  it.live("serves the seeded store read-only until SIGTERM, then exits 0", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const filename = Path.join(dir, "tasks.db")
      const seeded = yield* seed.pipe(Effect.provide(Layer.merge(SqliteBackend.layer({ filename }), Serializer.json)))
      const server = yield* Effect.acquireRelease(
        Effect.promise(() =>
          start(
            ["dashboard", "--backend", `sqlite:${filename}`, "--port", "0", "--read-only"],
            /^sitq dashboard on (http:\/\/127\.0\.0\.1:\d+)\/ \(read-only\)$/m
          )
        ),
        (s) => Effect.promise(() => s.stop())
      )
      const base = server.match[1]!
      const stats = yield* Effect.promise(() => fetch(`${base}/api/stats`).then((r) => r.json()))
      assert.deepStrictEqual((stats as { total: unknown }).total, { pending: 3, in_progress: 0, success: 3, failed: 2, cancelled: 1 })
      const retry = yield* Effect.promise(() =>
        fetch(`${base}/api/tasks/${seeded.failed[0]}/retry`, { method: "POST", headers: { "x-sitq-action": "1" } })
      )
      assert.strictEqual(retry.status, 403)
      const stopped = yield* Effect.promise(() => server.stop())
      assert.strictEqual(stopped.code, 0, stopped.stderr)
      assert.strictEqual(stopped.stderr, "")
    })), { timeout: 400_000 })
})
