/**
 * Process-level fault tests of the NATS backend: real worker processes (test/fixtures/nats-worker.ts)
 * against the real server. Four processes drain 20,000 tasks exactly once; a worker killed with
 * SIGKILL mid-task has its tasks run again elsewhere after the lease; a NATS server of the test's
 * own is killed and restarted during a drain and nothing is lost; a cancellation reaches a task
 * running in another process at once; a wrong address fails fast with a typed error.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { NatsBackend } from "../../src/backends/nats.js"
import { BackendError } from "../../src/Errors.js"
import { FaultJob } from "../fixtures/nats-tasks.js"
import { natsUrl } from "./layer.js"
import { countRuns, enqueueJobs, eventually, exited, ownServer, readRuns, startWorker, store } from "./processes.js"

describe("NatsBackend under faults (real processes)", () => {
  it.live("four worker processes drain 20,000 tasks; every task runs exactly once", () =>
    Effect.gen(function*() {
      const { backend, prefix, queue, recorder } = yield* store()
      const n = 20_000
      const started = Date.now()
      // the processes start while the tasks are enqueued
      const [ids, workers] = yield* Effect.all([
        enqueueJobs(queue, n, 0),
        Effect.all(Array.from({ length: 4 }, () => startWorker(prefix)), { concurrency: "unbounded" })
      ], { concurrency: "unbounded" })
      assert.lengthOf(ids, n)
      // polled on the run records (cheap), then the store is read once the runs are all there
      yield* eventually(countRuns(recorder, prefix), (runs) => runs >= n, "90 seconds", "20,000 runs", "250 millis")
      const stats = yield* eventually(backend.stats(), (s) => s.success === n, "10 seconds", "20,000 successes")
      const took = Date.now() - started
      assert.deepStrictEqual(stats, { pending: 0, in_progress: 0, success: n, failed: 0, cancelled: 0 })
      const { runs, who } = yield* readRuns(recorder, prefix)
      assert.strictEqual(runs.size, n)
      for (const id of ids) assert.strictEqual(runs.get(id), 1, `task ${id} ran ${runs.get(id)} times`)
      const perPid = new Map<string, number>()
      for (const pid of who.values()) perPid.set(pid, (perPid.get(pid) ?? 0) + 1)
      assert.isAtLeast(perPid.size, 2, "the work spread over several processes")
      yield* Effect.logInfo(`enqueued and drained ${n} tasks with ${workers.length} processes in ${took} ms (incl. start)`)
    }).pipe(Effect.scoped), 150_000)

  it.live("a worker killed with SIGKILL mid-task: its tasks run again elsewhere after the lease", () =>
    Effect.gen(function*() {
      const { backend, prefix, queue, recorder } = yield* store()
      const leaseMs = 2_000
      const ids = yield* enqueueJobs(queue, 5, 1_500)
      const doomed = yield* startWorker(prefix, { SITQ_FAULT_LEASE_MS: String(leaseMs) })
      yield* eventually(readRuns(recorder, prefix), (r) => r.runs.size === 5, "20 seconds", "all five started")
      const killedAt = Date.now()
      doomed.child.kill("SIGKILL")
      yield* exited(doomed.child)
      const deadPid = String(doomed.child.pid)
      assert.deepStrictEqual((yield* backend.stats()).in_progress, 5)
      const rescuer = yield* startWorker(prefix, { SITQ_FAULT_LEASE_MS: String(leaseMs) })
      yield* eventually(backend.stats(), (s) => s.success === 5, "30 seconds", "the rescued tasks to finish").pipe(
        Effect.tapError(() =>
          Effect.flatMap(backend.list({}), (l) =>
            Effect.logError(`rescuer ${rescuer.child.pid} dead ${doomed.child.pid} now ${Date.now()} output: ${rescuer.output()} ${JSON.stringify(l.map((t) => [t.status, t.leaseOwner, t.leaseUntil, t.attempts]))}`)
          )
        )
      )
      assert.isAtLeast(Date.now() - killedAt, leaseMs - 100, "not before the lease expired")
      const { runs, who } = yield* readRuns(recorder, prefix)
      for (const id of ids) {
        assert.strictEqual(runs.get(id), 2, "ran once on the dead worker, once on the rescuer")
        assert.strictEqual(who.get(id), String(rescuer.child.pid))
        assert.notStrictEqual(who.get(id), deadPid)
        const info = yield* queue.get(id)
        assert.strictEqual(info.attempts, 2)
        assert.strictEqual(info.status, "success")
      }
    }).pipe(Effect.scoped), 60_000)

  it.live("the NATS server is killed and restarted during a drain: nothing is lost, the workers recover", () =>
    Effect.gen(function*() {
      const server = yield* ownServer
      const { backend, prefix, queue, recorder } = yield* store(server.url)
      const n = 2_000
      const ids = yield* enqueueJobs(queue, n, 10)
      const env = { SITQ_TEST_NATS_URL: server.url, SITQ_FAULT_RECORD_URL: natsUrl(), SITQ_FAULT_LEASE_MS: "3000", SITQ_FAULT_CONCURRENCY: "20" }
      const workers = yield* Effect.all([startWorker(prefix, env), startWorker(prefix, env)], { concurrency: "unbounded" })
      yield* eventually(readRuns(recorder, prefix), (r) => r.runs.size >= 200, "30 seconds", "the drain to be under way")
      yield* server.kill
      yield* Effect.sleep("1500 millis")
      yield* server.start
      const stats = yield* eventually(backend.stats(), (s) => s.success === n, "90 seconds", "all tasks to finish", "1 second")
      assert.deepStrictEqual(stats, { pending: 0, in_progress: 0, success: n, failed: 0, cancelled: 0 })
      const { runs } = yield* readRuns(recorder, prefix)
      for (const id of ids) assert.isAtLeast(runs.get(id) ?? 0, 1, `task ${id} never ran`)
      for (const w of workers) {
        assert.isNull(w.child.exitCode, "the worker is still alive")
        assert.match(w.output(), /nats connection lost/)
        assert.match(w.output(), /nats connection re-established/)
      }
      // and they still work
      const [late] = yield* queue.enqueueMany(FaultJob, [{ n: -1, sleepMs: 0 }])
      yield* eventually(queue.get(late!), (t) => t.status === "success", "15 seconds", "a task after the restart")
    }).pipe(Effect.scoped), 150_000)

  it.live("cancelling a task running in another process interrupts it at once (pushed, not polled)", () =>
    Effect.gen(function*() {
      const { prefix, queue, recorder } = yield* store()
      // a 60 s lease: the worker's heartbeat (every 20 s) cannot be what notices the cancellation
      const worker = yield* startWorker(prefix, { SITQ_FAULT_LEASE_MS: "60000" })
      const [id] = yield* queue.enqueueMany(FaultJob, [{ n: 0, sleepMs: 60_000 }])
      yield* eventually(readRuns(recorder, prefix), (r) => r.runs.has(id!), "10 seconds", "the task to start", "50 millis")
      const cancelledAt = Date.now()
      assert.isTrue(yield* queue.cancel(id!))
      const { interrupted } = yield* eventually(
        readRuns(recorder, prefix),
        (r) => r.interrupted.has(id!),
        "5 seconds",
        "the running task to be interrupted",
        "50 millis"
      )
      assert.strictEqual(interrupted.get(id!), String(worker.child.pid))
      assert.isBelow(Date.now() - cancelledAt, 2_000)
      assert.strictEqual((yield* queue.get(id!)).status, "cancelled")
    }).pipe(Effect.scoped), 60_000)

  it.live("a wrong address fails at layer start with a Connect BackendError within the connect timeout", () =>
    Effect.gen(function*() {
      for (const servers of ["nats://127.0.0.1:1", "nats://10.255.255.1:4222"]) {
        const started = Date.now()
        const exit = yield* Layer.build(NatsBackend.layer({ servers, connectTimeout: "1 second" })).pipe(
          Effect.scoped,
          Effect.exit
        )
        const took = Date.now() - started
        assert.isTrue(Exit.isFailure(exit), servers)
        if (Exit.isFailure(exit)) {
          const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
          assert.instanceOf(error, BackendError)
          assert.strictEqual((error as BackendError).reason, "Connect")
          assert.match((error as BackendError).message, /cannot connect/)
        }
        assert.isBelow(took, 2_000, `${servers} took ${took} ms`)
      }
    }))
})
