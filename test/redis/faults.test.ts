/**
 * Process-level fault tests of the Redis backend: real worker processes (test/fixtures/redis-worker.ts)
 * against the real server. Four processes drain 20,000 tasks exactly once; a worker killed with
 * SIGKILL mid-task has its tasks run again elsewhere after the lease; a worker whose connections
 * are killed server-side (CLIENT KILL) reconnects and loses nothing; a wrong address fails fast.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Exit, Layer, Schedule, Stream } from "effect"
import { Redis } from "ioredis"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { randomUUID } from "node:crypto"
import { fileURLToPath } from "node:url"
import { Backend } from "../../src/Backend.js"
import { RedisBackend } from "../../src/backends/redis.js"
import { BackendError } from "../../src/Errors.js"
import { Serializer, TaskQueue } from "../../src/index.js"
import { FaultJob, interruptedKey, runsKey, whoKey } from "../fixtures/redis-tasks.js"
import { deleteStore, freshPrefix, redisUrl } from "./layer.js"

const fixture = fileURLToPath(new URL("../fixtures/redis-worker.ts", import.meta.url))
const root = fileURLToPath(new URL("../..", import.meta.url))

interface WorkerProcess {
  readonly child: ChildProcess
  readonly name: string
  readonly output: () => string
}

/** Starts a worker process and waits (bounded) until it says it runs; SIGKILLed on scope close. */
const startWorker = (prefix: string, env: Record<string, string> = {}) =>
  Effect.acquireRelease(
    Effect.async<WorkerProcess, Error>((resume) => {
      const name = `sitq-fault-${randomUUID().slice(0, 8)}`
      const child = spawn(process.execPath, ["--import", "tsx", fixture], {
        cwd: root,
        env: {
          ...process.env,
          SITQ_TEST_REDIS_URL: redisUrl(),
          SITQ_FAULT_PREFIX: prefix,
          SITQ_FAULT_CONN_NAME: name,
          ...env
        },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let out = ""
      let done = false
      const wp: WorkerProcess = { child, name, output: () => out }
      const onData = (chunk: Buffer) => {
        out += chunk.toString()
        if (!done && out.includes("ready\n")) {
          done = true
          resume(Effect.succeed(wp))
        }
      }
      child.stdout?.on("data", onData)
      child.stderr?.on("data", (chunk: Buffer) => {
        out += chunk.toString()
      })
      child.on("exit", (code, signal) => {
        if (!done) {
          done = true
          resume(Effect.fail(new Error(`worker exited early (${code ?? signal}): ${out}`)))
        }
      })
      return Effect.sync(() => child.kill("SIGKILL"))
    }).pipe(Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => new Error("worker did not start in 30 s") })),
    (wp) => Effect.sync(() => wp.child.kill("SIGKILL"))
  )

/** A store shared with the worker processes; deleted afterwards. */
const store = Effect.gen(function*() {
  const prefix = freshPrefix()
  yield* Effect.addFinalizer(() => Effect.promise(() => deleteStore(prefix)))
  const ctx = yield* Layer.build(
    TaskQueue.layer.pipe(
      Layer.provideMerge(RedisBackend.layer({ url: redisUrl(), prefix })),
      Layer.provide(Serializer.json)
    )
  )
  const raw = yield* Effect.acquireRelease(
    Effect.sync(() => new Redis(redisUrl())),
    (c) => Effect.promise(() => c.quit().catch(() => "OK"))
  )
  const queue = ctx.unsafeMap.get(TaskQueue.key) as TaskQueue["Type"]
  const backend = ctx.unsafeMap.get(Backend.key) as Backend
  return { prefix, queue, backend, raw }
})

const enqueueJobs = (queue: TaskQueue["Type"], n: number, sleepMs: number) =>
  Stream.range(0, n - 1).pipe(
    Stream.grouped(1000),
    Stream.mapEffect((chunk) => queue.enqueueMany(FaultJob, Chunk.map(chunk, (i) => ({ n: i, sleepMs })))),
    Stream.runCollect,
    Effect.map((chunks) => Chunk.toReadonlyArray(chunks).flat())
  )

/** Polls until `check` holds, failing after `within`. */
const eventually = <A>(
  probe: Effect.Effect<A, unknown>,
  check: (a: A) => boolean,
  within: Duration.DurationInput,
  what: string
) =>
  probe.pipe(
    Effect.flatMap((a) => check(a) ? Effect.succeed(a) : Effect.fail("not yet" as const)),
    Effect.retry({ while: (e) => e === "not yet", schedule: Schedule.spaced("100 millis") }),
    Effect.timeoutFail({ duration: within, onTimeout: () => new Error(`timed out waiting for ${what}`) })
  )

const runCounts = (raw: Redis, prefix: string) =>
  Effect.promise(() => raw.hgetall(runsKey(prefix))).pipe(
    Effect.map((h) => new Map(Object.entries(h).map(([k, v]) => [k, Number(v)])))
  )

describe("RedisBackend under faults (real processes)", () => {
  it.live("four worker processes drain 20,000 tasks; every task runs exactly once", () =>
    Effect.gen(function*() {
      const { backend, prefix, queue, raw } = yield* store
      const n = 20_000
      const started = Date.now()
      // the processes start while the tasks are enqueued
      const [ids, workers] = yield* Effect.all([
        enqueueJobs(queue, n, 0),
        Effect.all(Array.from({ length: 4 }, () => startWorker(prefix)), { concurrency: "unbounded" })
      ], { concurrency: "unbounded" })
      assert.lengthOf(ids, n)
      const stats = yield* eventually(backend.stats(), (s) => s.success === n, "75 seconds", "20,000 successes")
      const took = Date.now() - started
      assert.deepStrictEqual(stats, { pending: 0, in_progress: 0, success: n, failed: 0, cancelled: 0 })
      const runs = yield* runCounts(raw, prefix)
      assert.strictEqual(runs.size, n)
      for (const id of ids) assert.strictEqual(runs.get(id), 1, `task ${id} ran ${runs.get(id)} times`)
      const who = yield* Effect.promise(() => raw.hvals(whoKey(prefix)))
      const perPid = new Map<string, number>()
      for (const pid of who) perPid.set(pid, (perPid.get(pid) ?? 0) + 1)
      assert.isAtLeast(perPid.size, 2, "the work spread over several processes")
      yield* Effect.logInfo(`enqueued and drained ${n} tasks with ${workers.length} processes in ${took} ms (incl. start)`)
    }).pipe(Effect.scoped), 120_000)

  it.live("a worker killed with SIGKILL mid-task: its tasks run again elsewhere after the lease", () =>
    Effect.gen(function*() {
      const { backend, prefix, queue, raw } = yield* store
      const leaseMs = 2_000
      const ids = yield* enqueueJobs(queue, 5, 1_500)
      const doomed = yield* startWorker(prefix, { SITQ_FAULT_LEASE_MS: String(leaseMs) })
      yield* eventually(runCounts(raw, prefix), (r) => r.size === 5, "20 seconds", "all five started")
      const killedAt = Date.now()
      doomed.child.kill("SIGKILL")
      yield* Effect.async<void>((resume) => {
        if (doomed.child.exitCode !== null || doomed.child.signalCode !== null) resume(Effect.void)
        else doomed.child.once("exit", () => resume(Effect.void))
      })
      const deadPid = String(doomed.child.pid)
      assert.deepStrictEqual((yield* backend.stats()).in_progress, 5)
      const rescuer = yield* startWorker(prefix, { SITQ_FAULT_LEASE_MS: String(leaseMs) })
      yield* eventually(backend.stats(), (s) => s.success === 5, "30 seconds", "the rescued tasks to finish")
      assert.isAtLeast(Date.now() - killedAt, leaseMs - 100, "not before the lease expired")
      const runs = yield* runCounts(raw, prefix)
      const who = yield* Effect.promise(() => raw.hgetall(whoKey(prefix)))
      for (const id of ids) {
        assert.strictEqual(runs.get(id), 2, "ran once on the dead worker, once on the rescuer")
        assert.strictEqual(who[id], String(rescuer.child.pid))
        assert.notStrictEqual(who[id], deadPid)
        const info = yield* queue.get(id)
        assert.strictEqual(info.attempts, 2)
        assert.strictEqual(info.status, "success")
      }
    }).pipe(Effect.scoped), 60_000)

  it.live("connections killed under a running worker: it reconnects and nothing is lost", () =>
    Effect.gen(function*() {
      const { backend, prefix, queue, raw } = yield* store
      const n = 400
      const ids = yield* enqueueJobs(queue, n, 20)
      const worker = yield* startWorker(prefix, { SITQ_FAULT_LEASE_MS: "3000", SITQ_FAULT_CONCURRENCY: "20" })
      const killOnce = Effect.promise(async () => {
        const list = await raw.client("LIST")
        const mine = String(list).split("\n").filter((l) =>
          l.includes(`name=${worker.name} `) || l.includes(`name=${worker.name}:sub `)
        )
        for (const line of mine) {
          const id = /\bid=(\d+)/.exec(line)?.[1]
          if (id !== undefined) await raw.client("KILL", "ID", id)
        }
        return mine.length
      })
      let kills = 0
      for (let round = 0; round < 4; round++) {
        yield* Effect.sleep("400 millis")
        kills += yield* killOnce
      }
      assert.isAtLeast(kills, 4, "connections were found by name and killed")
      const stats = yield* eventually(backend.stats(), (s) => s.success === n, "40 seconds", "all tasks to finish")
      assert.deepStrictEqual(stats, { pending: 0, in_progress: 0, success: n, failed: 0, cancelled: 0 })
      const runs = yield* runCounts(raw, prefix)
      for (const id of ids) assert.isAtLeast(runs.get(id) ?? 0, 1)
      // the worker is still alive, said what happened, and still works
      assert.isNull(worker.child.exitCode)
      assert.match(worker.output(), /redis connection lost/)
      assert.match(worker.output(), /redis connection re-established/)
      const [late] = yield* queue.enqueueMany(FaultJob, [{ n: -1, sleepMs: 0 }])
      yield* eventually(queue.get(late!), (t) => t.status === "success", "10 seconds", "a task after the kills")
    }).pipe(Effect.scoped), 60_000)

  it.live("cancelling a task running in another process interrupts it at once (pushed, not polled)", () =>
    Effect.gen(function*() {
      const { prefix, queue, raw } = yield* store
      // a 60 s lease: the worker's heartbeat (every 20 s) cannot be what notices the cancellation
      const worker = yield* startWorker(prefix, { SITQ_FAULT_LEASE_MS: "60000" })
      const [id] = yield* queue.enqueueMany(FaultJob, [{ n: 0, sleepMs: 60_000 }])
      yield* eventually(runCounts(raw, prefix), (r) => r.has(id!), "10 seconds", "the task to start")
      const cancelledAt = Date.now()
      assert.isTrue(yield* queue.cancel(id!))
      const interrupted = yield* eventually(
        Effect.promise(() => raw.hget(interruptedKey(prefix), id!)),
        (pid) => pid !== null,
        "5 seconds",
        "the running task to be interrupted"
      )
      assert.strictEqual(interrupted, String(worker.child.pid))
      assert.isBelow(Date.now() - cancelledAt, 2_000)
      assert.strictEqual((yield* queue.get(id!)).status, "cancelled")
    }).pipe(Effect.scoped), 60_000)

  it.live("a wrong address fails at layer start with a Connect BackendError within the connect timeout", () =>
    Effect.gen(function*() {
      for (const url of ["redis://127.0.0.1:1", "redis://10.255.255.1:6379"]) {
        const started = Date.now()
        const exit = yield* Layer.build(RedisBackend.layer({ url, connectTimeout: "1 second" })).pipe(
          Effect.scoped,
          Effect.exit
        )
        const took = Date.now() - started
        assert.isTrue(Exit.isFailure(exit), url)
        if (Exit.isFailure(exit)) {
          const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
          assert.instanceOf(error, BackendError)
          assert.strictEqual((error as BackendError).reason, "Connect")
          assert.match((error as BackendError).message, /cannot connect/)
        }
        assert.isBelow(took, 2_000, `${url} took ${took} ms`)
      }
    }))
})
