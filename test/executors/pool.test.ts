/**
 * The pool itself: bounded (never more members than `size`), reused across calls, closed with its
 * scope (the children are gone), and a missing export is an `ExecutorError` that keeps the member.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { ExecutorError, ProcessPool, ThreadPool } from "../../src/executors.js"
import { alive, work } from "./helpers.js"

const context = { id: "t", name: "whoami", queue: "default", attempt: 1, enqueuedAt: 0 }

describe("executors: the pool", () => {
  for (const [kind, make] of [["thread", ThreadPool.make], ["process", ProcessPool.make]] as const) {
    it.live(`${kind} pool: bounded, reused, closed with its scope`, () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const pool = yield* Scope.extend(make({ size: 2, preload: [work] }), scope)
        assert.strictEqual(pool.kind, kind)
        const members = yield* pool.members
        assert.strictEqual(members.length, 2)

        const who = yield* Effect.forEach(
          Array.from({ length: 8 }),
          () => pool.run({ module: work.href, export: "whoami", payload: null, context }),
          { concurrency: 8 }
        ) as Effect.Effect<ReadonlyArray<{ pid: number; threadId: number }>, unknown>
        const ids = new Set(who.map((w) => (kind === "process" ? w.pid : w.threadId)))
        assert.deepStrictEqual([...ids].sort(), [...members].sort(), "every call ran on one of the two members")
        assert.strictEqual(yield* pool.started, 2)

        const missing = yield* Effect.flip(pool.run({ module: work.href, export: "nope", payload: null, context }))
        assert.instanceOf(missing, ExecutorError)
        assert.strictEqual((missing as ExecutorError).reason, "Module")
        assert.include(missing.message, "has no exported function 'nope'")
        assert.strictEqual(yield* pool.started, 2, "a missing export keeps the member")

        yield* Scope.close(scope, Exit.void)
        assert.deepStrictEqual(yield* pool.members, [])
        if (kind === "process") assert.isFalse(members.some(alive), "a child outlived its pool")
      }), 60_000)
  }
})
