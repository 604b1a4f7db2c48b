/**
 * After SIGTERM of a worker process whose process pool is busy, no child is left running: the
 * worker interrupts its tasks (which kills their children) and the pool closes. The parent is a
 * real process (`test/fixtures/executors/parent.ts`) started by the test.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { spawn } from "node:child_process"
import { join } from "node:path"
import { alive, eventually, stopped, tempDir } from "./helpers.js"

const root = join(import.meta.dirname, "../..")

/** The parent, for the scope's lifetime (SIGKILLed with whatever it left, if the test fails). */
const startParent = (dir: string) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const child = spawn(process.execPath, ["--import", "tsx", join(root, "test/fixtures/executors/parent.ts")], {
        cwd: root,
        env: { ...process.env, SITQ_TEST_DIR: dir },
        stdio: ["ignore", "pipe", "pipe"]
      })
      const started = yield* Deferred.make<{ parent: number; pids: ReadonlyArray<number> }>()
      const exited = yield* Deferred.make<number | null>()
      let out = ""
      let err = ""
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk
        const line = out.split("\n").find((l) => l.startsWith("{\"parent\""))
        if (line !== undefined) Deferred.unsafeDone(started, Effect.succeed(JSON.parse(line)))
      })
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        err = (err + chunk).slice(-4000)
      })
      child.on("exit", (code) => Deferred.unsafeDone(exited, Effect.succeed(code)))
      return { child, started, exited, output: () => out + err }
    }),
    ({ child }) => Effect.sync(() => child.kill("SIGKILL"))
  )

describe("executors: SIGTERM of the parent", () => {
  it.scopedLive("leaves no child process running", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const parent = yield* startParent(dir)
      const { pids } = yield* Deferred.await(parent.started).pipe(
        Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error(`the parent did not start: ${parent.output()}`) })
      )
      yield* Effect.addFinalizer(() => Effect.sync(() => pids.filter(alive).forEach((pid) => process.kill(pid, "SIGKILL"))))
      assert.strictEqual(pids.length, 2)
      assert.isTrue(pids.every(alive))
      assert.isFalse(yield* stopped(join(dir, "a.json")), "the children are busy")

      parent.child.kill("SIGTERM")
      yield* Deferred.await(parent.exited).pipe(
        Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => new Error(`the parent did not exit: ${parent.output()}`) })
      )
      assert.isTrue(yield* eventually(Effect.sync(() => !pids.some(alive)), 40), `children left: ${pids.filter(alive)}`)
      assert.isTrue(yield* stopped(join(dir, "a.json")))
      assert.isTrue(yield* stopped(join(dir, "b.json")))
    }), 120_000)
})
