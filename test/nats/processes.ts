/**
 * Helpers of the NATS process tests: worker processes (test/fixtures/nats-worker.ts), a store
 * shared with them, the run records they leave, and a NATS server of the test's own.
 */
import { DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream"
import { connect, nanos } from "@nats-io/transport-node"
import type { NatsConnection } from "@nats-io/transport-node"
import { Chunk, Duration, Effect, Layer, Schedule, Stream } from "effect"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Backend } from "../../src/Backend.js"
import { NatsBackend } from "../../src/backends/nats.js"
import { BackendError } from "../../src/Errors.js"
import { Serializer, TaskQueue } from "../../src/index.js"
import { FaultJob, recordStream, recordSubject } from "../fixtures/nats-tasks.js"
import { deleteStore, freshPrefix, natsUrl } from "./layer.js"

const fixture = fileURLToPath(new URL("../fixtures/nats-worker.ts", import.meta.url))
const root = fileURLToPath(new URL("../..", import.meta.url))

export interface WorkerProcess {
  readonly child: ChildProcess
  readonly output: () => string
}

/** Starts a worker process and waits (bounded) until it says it runs; SIGKILLed on scope close. */
export const startWorker = (prefix: string, env: Record<string, string> = {}) =>
  Effect.acquireRelease(
    Effect.async<WorkerProcess, Error>((resume) => {
      const child = spawn(process.execPath, ["--import", "tsx", fixture], {
        cwd: root,
        env: { ...process.env, SITQ_TEST_NATS_URL: natsUrl(), SITQ_FAULT_PREFIX: prefix, ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let out = ""
      let done = false
      const wp: WorkerProcess = { child, output: () => out }
      child.stdout?.on("data", (chunk: Buffer) => {
        out += chunk.toString()
        if (!done && out.includes("ready\n")) {
          done = true
          resume(Effect.succeed(wp))
        }
      })
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
    }).pipe(Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error("worker did not start in 60 s") })),
    (wp) => Effect.sync(() => wp.child.kill("SIGKILL"))
  )

/** Waits until a process has exited. */
export const exited = (child: ChildProcess) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) resume(Effect.void)
    else child.once("exit", () => resume(Effect.void))
  })

const connection = (servers: string) =>
  Effect.acquireRelease(
    Effect.promise(() => connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 100 })),
    (nc) => Effect.promise(() => nc.close().catch(() => undefined))
  )

/**
 * A store shared with worker processes on `servers` (default the test server), and the stream the
 * workers record their runs in (always on the test server); both deleted afterwards.
 */
export const store = (servers: string = natsUrl()) =>
  Effect.gen(function*() {
    const prefix = freshPrefix()
    const recorder = yield* connection(natsUrl())
    const jsm = yield* Effect.promise(() => jetstreamManager(recorder))
    yield* Effect.acquireRelease(
      Effect.promise(() =>
        jsm.streams.add({
          name: recordStream(prefix),
          subjects: [`${recordSubject(prefix)}.>`],
          storage: StorageType.Memory,
          retention: RetentionPolicy.Limits,
          // a record published again (its acknowledgement was late) is dropped by its message id
          // within this window: longer than a record's retries (100 x (2 s timeout + 100 ms))
          duplicate_window: nanos(600_000)
        })
      ),
      () => Effect.promise(() => jsm.streams.delete(recordStream(prefix)).catch(() => false))
    )
    yield* Effect.addFinalizer(() => Effect.promise(() => deleteStore(prefix, servers).catch(() => undefined)))
    const ctx = yield* Layer.build(
      TaskQueue.layer.pipe(
        Layer.provideMerge(NatsBackend.layer({ servers, prefix })),
        Layer.provide(Serializer.json)
      )
    )
    const queue = ctx.unsafeMap.get(TaskQueue.key) as TaskQueue["Type"]
    const backend = ctx.unsafeMap.get(Backend.key) as Backend
    return { prefix, queue, backend, recorder }
  })

export interface Runs {
  /** Runs per task id. */
  readonly runs: Map<string, number>
  /** The pid of each task's last run. */
  readonly who: Map<string, string>
  /** The pid that saw each interrupted task. */
  readonly interrupted: Map<string, string>
}

/** Reads every run record of a store. */
export const readRuns = (recorder: NatsConnection, prefix: string): Effect.Effect<Runs> =>
  Effect.promise(async () => {
    const out: Runs = { runs: new Map(), who: new Map(), interrupted: new Map() }
    const jsm = await jetstreamManager(recorder)
    const info = await jsm.streams.info(recordStream(prefix))
    if (info.state.messages === 0) return out
    const consumer = await jetstream(recorder).consumers.get(recordStream(prefix), { deliver_policy: DeliverPolicy.All })
    const messages = await consumer.consume({ max_messages: 5_000 })
    for await (const m of messages) {
      const [id, pid] = m.string().split(" ") as [string, string]
      if (m.subject.endsWith(".run")) {
        out.runs.set(id, (out.runs.get(id) ?? 0) + 1)
        out.who.set(id, pid)
      } else {
        out.interrupted.set(id, pid)
      }
      if (m.info.pending === 0) break
    }
    await messages.close()
    return out
  })

/** How many run records a store has (one stream info request: cheap enough to poll). */
export const countRuns = (recorder: NatsConnection, prefix: string): Effect.Effect<number> =>
  Effect.promise(async () => {
    const jsm = await jetstreamManager(recorder)
    return (await jsm.streams.info(recordStream(prefix))).state.messages
  })

export const enqueueJobs = (queue: TaskQueue["Type"], n: number, sleepMs: number) =>
  Stream.range(0, n - 1).pipe(
    Stream.grouped(1000),
    Stream.mapEffect((chunk) => queue.enqueueMany(FaultJob, Chunk.map(chunk, (i) => ({ n: i, sleepMs })))),
    Stream.runCollect,
    Effect.map((chunks) => Chunk.toReadonlyArray(chunks).flat())
  )

/** Polls until `check` holds, failing after `within`. */
export const eventually = <A>(
  probe: Effect.Effect<A, unknown>,
  check: (a: A) => boolean,
  within: Duration.DurationInput,
  what: string,
  every: Duration.DurationInput = "200 millis"
) =>
  probe.pipe(
    Effect.flatMap((a) => check(a) ? Effect.succeed(a) : Effect.fail("not yet" as const)),
    // A probe that fails while the server is away (a restart under test) is asked again; the
    // observer's own reads are not what the test is about.
    Effect.retry({
      while: (e) => e === "not yet" || (e instanceof BackendError && e.reason !== "Closed"),
      schedule: Schedule.spaced(every)
    }),
    Effect.timeoutFail({ duration: within, onTimeout: () => new Error(`timed out waiting for ${what}`) })
  )

/** A free TCP port on 127.0.0.1. */
export const freePort = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

export interface OwnServer {
  readonly url: string
  /** Kills the server (SIGKILL) and waits for it to be gone. */
  readonly kill: Effect.Effect<void>
  /** Starts it again on the same port and store directory and waits until it accepts clients. */
  readonly start: Effect.Effect<void, Error>
}

const serverBinary = process.env["SITQ_TEST_NATS_SERVER_BIN"] ?? "/usr/sbin/nats-server"

/** A NATS server of the test's own: own port, own temp store directory; killed and removed on scope close. */
export const ownServer = Effect.gen(function*() {
  const port = yield* freePort
  const dir = mkdtempSync(join(tmpdir(), "sitq-nats-"))
  const url = `nats://127.0.0.1:${port}`
  let child: ChildProcess | undefined
  const ready = Effect.promise(() =>
    connect({ servers: url, timeout: 500 }).then(
      async (nc) => {
        await jetstreamManager(nc).then(() => true, () => false).finally(() => nc.close())
        return true
      },
      () => false
    )
  ).pipe(
    Effect.flatMap((ok) => ok ? Effect.void : Effect.fail("not yet" as const)),
    Effect.retry({ while: (e) => e === "not yet", schedule: Schedule.spaced("100 millis") }),
    Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error(`nats-server on ${port} did not start`) }),
    Effect.mapError((e) => typeof e === "string" ? new Error(e) : e)
  )
  const start = Effect.suspend(() => {
    child = spawn(serverBinary, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir], { stdio: "ignore" })
    return ready
  })
  const kill = Effect.suspend(() => {
    const c = child
    if (c === undefined) return Effect.void
    c.kill("SIGKILL")
    return exited(c)
  })
  yield* Effect.addFinalizer(() =>
    kill.pipe(Effect.zipRight(Effect.sync(() => rmSync(dir, { recursive: true, force: true }))))
  )
  yield* start
  return { url, kill, start } satisfies OwnServer
})

export const elapsed = (since: number): Duration.Duration => Duration.millis(Date.now() - since)
