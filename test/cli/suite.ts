/**
 * The CLI suite: seeds a store in-process through the real client and worker, then runs the
 * `sitq` bin as real processes against it and checks what they print and what they change. Run
 * against SQLite (test/cli), PostgreSQL (test/postgres/cli.test.ts) and Redis (test/redis/cli.test.ts).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { Backend } from "../../src/Backend.js"
import type { BackendError } from "../../src/Errors.js"
import { Serializer } from "../../src/Serializer.js"
import { lines, sitq } from "./run.js"
import type { Seeded } from "./seed.js"
import { seed, seededStats } from "./seed.js"

export interface Store {
  /** `--backend ...` and any other flags that name the store (`--prefix ...`). */
  readonly flags: ReadonlyArray<string>
  /** The same store in-process. */
  readonly layer: Layer.Layer<Backend, BackendError>
}

const json = (stdout: string): unknown => JSON.parse(stdout)

const field = (u: unknown, ...path: ReadonlyArray<string | number>): unknown =>
  path.reduce<unknown>((v, k) => (typeof v === "object" && v !== null ? (v as Record<string | number, unknown>)[k] : undefined), u)

export const suite = (name: string, makeStore: Effect.Effect<Store, unknown, import("effect").Scope.Scope>) =>
  describe(`sitq CLI on ${name}`, () => {
    it.live("reads, changes and reports on a seeded store", () =>
      Effect.scoped(Effect.gen(function*() {
        const store = yield* makeStore
        const seeded: Seeded = yield* seed.pipe(Effect.provide(Layer.merge(store.layer, Serializer.json)))
        const run = (...args: ReadonlyArray<string>) => Effect.promise(() => sitq([...args, ...store.flags]))
        const [failed] = seeded.failed
        const [pending] = seeded.pending

        // reads, all at once
        const [stats, statsText, failedList, filtered, shown, binary, shownText, missing] = yield* Effect.all([
          run("stats", "--json"),
          run("stats"),
          run("list", "--status", "failed", "--json"),
          run("list", "--name", "send_email", "--queue", "emails", "--limit", "2", "--json"),
          run("show", failed!, "--json"),
          run("show", seeded.binary, "--json"),
          run("show", failed!),
          run("show", "no-such-task")
        ], { concurrency: 4 })

        assert.strictEqual(stats.code, 0, stats.stderr)
        assert.deepStrictEqual(field(json(stats.stdout), "total"), seededStats)
        const queues = field(json(stats.stdout), "queues") as ReadonlyArray<{ queue: string; counts: unknown }>
        assert.deepStrictEqual(queues.find((q) => q.queue === "images")?.counts, {
          pending: 0, in_progress: 0, success: 0, failed: 2, cancelled: 0
        })
        assert.strictEqual(statsText.code, 0)
        assert.match(statsText.stdout, /^\(all\)\s+3\s+0\s+3\s+2\s+1$/m)

        assert.strictEqual(failedList.code, 0, failedList.stderr)
        const failedIds = (json(failedList.stdout) as ReadonlyArray<{ id: string }>).map((t) => t.id)
        assert.deepStrictEqual([...failedIds].sort(), [...seeded.failed].sort())

        const emails = json(filtered.stdout) as ReadonlyArray<{ name: string; queue: string }>
        assert.strictEqual(emails.length, 2)
        assert.isTrue(emails.every((t) => t.name === "send_email" && t.queue === "emails"))

        assert.strictEqual(shown.code, 0, shown.stderr)
        const d = json(shown.stdout)
        assert.strictEqual(field(d, "status"), "failed")
        assert.strictEqual(field(d, "attempts"), 1)
        assert.deepStrictEqual(field(d, "error"), { tag: "Rejected", message: "cannot decode https://img.example.com/1.png" })
        assert.deepStrictEqual(field(d, "errorData", "value", "code"), 415)
        assert.deepStrictEqual(field(d, "payload"), { encoding: "json", value: { url: "https://img.example.com/1.png", width: 640 } })
        assert.match(String(field(d, "traceback")), /Rejected: cannot decode/)
        assert.deepStrictEqual((field(d, "timeline") as ReadonlyArray<{ event: string }>).map((e) => e.event), [
          "enqueued", "started", "failed"
        ])
        assert.deepStrictEqual(field(json(binary.stdout), "payload"), { encoding: "base64", value: "/wCBfw==" })
        assert.match(shownText.stdout, /^traceback$/m)
        assert.match(shownText.stdout, /"width": 640/)
        assert.strictEqual(missing.code, 1)
        assert.deepStrictEqual(lines(missing.stderr), ["sitq: no task no-such-task"])

        // changes
        const [retried, cancelled] = yield* Effect.all([run("retry", failed!), run("cancel", pending!)], {
          concurrency: 4
        })
        assert.strictEqual(retried.code, 0, retried.stderr)
        assert.strictEqual(retried.stdout.trim(), `requeued ${failed}`)
        assert.strictEqual(cancelled.code, 0, cancelled.stderr)
        const [again, purged] = yield* Effect.all([
          run("retry", failed!),
          run("purge", "--all", "--status", "cancelled", "--json")
        ], { concurrency: 4 })
        assert.strictEqual(again.code, 1)
        assert.deepStrictEqual(lines(again.stderr), [
          `sitq: task ${failed} has not finished: only failed or cancelled tasks can be retried`
        ])
        assert.strictEqual(purged.code, 0, purged.stderr)
        assert.deepStrictEqual(json(purged.stdout), { purged: 2 })

        const after = yield* Effect.gen(function*() {
          const backend = yield* Backend
          return {
            failed: yield* backend.get(failed!),
            pending: yield* backend.get(pending!),
            stats: yield* backend.stats()
          }
        }).pipe(Effect.provide(store.layer))
        assert.strictEqual(Option.getOrThrow(after.failed).status, "pending")
        assert.strictEqual(Option.getOrThrow(after.failed).attempts, 0)
        assert.isTrue(Option.isNone(after.pending))
        assert.deepStrictEqual(after.stats, { pending: 3, in_progress: 0, success: 3, failed: 1, cancelled: 0 })

        // a retry refused because a newer live task holds the dedup key: one line, exit 1
        const keyed = yield* Effect.gen(function*() {
          const backend = yield* Backend
          const task = (id: string) => ({
            id,
            queue: "default",
            name: "keyed",
            payload: new Uint8Array([1]),
            priority: 2,
            runAt: 86_400_000_000_000,
            key: "cli-key"
          })
          yield* backend.enqueue([task("cli-key-a")])
          yield* backend.cancel("cli-key-a")
          yield* backend.enqueue([task("cli-key-b")])
          return "cli-key-a"
        }).pipe(Effect.provide(store.layer))
        const held = yield* run("retry", keyed)
        assert.strictEqual(held.code, 1)
        assert.deepStrictEqual(lines(held.stderr), [
          `sitq: task ${keyed} was not retried: another pending or running task holds its dedup key`
        ])
      })), { timeout: 400_000 })
  })
