/**
 * `RedisBackend`: the sitq storage port on Redis (or anything that speaks its protocol and runs
 * Lua: Valkey, Redis Cluster), through `ioredis`. Every state change that must be atomic (enqueue
 * of a batch with dedup keys, claim of a batch with lease recovery, settle of a batch, heartbeat,
 * cancel, retry, purge) is one Lua script call, so a batch costs one round trip. Workers and result
 * waiters are woken by pub/sub pushed from those scripts; finished tasks are kept for a retention
 * period and then expired by Redis itself. All keys of one store share the hash tag `{prefix}`, so
 * a store lives in one hash slot and works on Redis Cluster.
 *
 * `RedisBackend.make` is the scoped constructor, `RedisBackend.layer(options)` the layer,
 * `RedisBackend.layerConfig(config)` the layer with its options read from `Config`: the same shape
 * as every other backend.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Layer, Option, Redacted, Runtime } from "effect"
import type { Config, ConfigError, Scope } from "effect"
import { Cluster, Redis } from "ioredis"
import type { ClusterNode, ClusterOptions, RedisOptions } from "ioredis"
import { randomUUID } from "node:crypto"
import type * as Backend from "../../Backend.js"
import { Backend as BackendTag, statuses } from "../../Backend.js"
import { BackendError } from "../../Errors.js"
import * as Events from "../kit/events.js"
import { guarded } from "../kit/guard.js"
import type { Retention } from "../kit/purge.js"
import { retentionOf } from "../kit/purge.js"
import { decodeFailureTimes, encodeFailureTimes } from "../kit/rows.js"
import { checkUrl } from "../kit/url.js"
import type { Script } from "./scripts.js"
import { runScript, scripts } from "./scripts.js"

/**
 * Where the Redis server is: a URL (`redis://user:pass@host:6379/0`, `rediss://` for TLS), a full
 * `ioredis` options object, or the seed nodes of a Redis Cluster (every key of one store shares
 * one hash tag, so a store lives in one slot of the cluster).
 *
 * @since 0.1.0
 * @category models
 */
export type Connection =
  | { readonly url: string | Redacted.Redacted<string>; readonly options?: RedisOptions | undefined }
  | { readonly options: RedisOptions }
  | { readonly cluster: ReadonlyArray<ClusterNode>; readonly clusterOptions?: ClusterOptions | undefined }

/**
 * Options of {@link layer}.
 *
 * - `prefix`: the store's name; every key is `sitq:{prefix}:…` (default `"default"`). Two stores
 *   with different prefixes on one server are independent.
 * - `retention`: how long finished tasks (and their results) are kept before they are deleted
 *   (default 24 hours; `Duration.infinity` keeps them until `purge`). The same option as on every
 *   backend; here Redis itself expires each finished task's hash (`PEXPIRE`) at that age, so the
 *   `every` of `{ finishedOlderThan, every }` has no use.
 * - `connectTimeout`: how long the layer waits for the server at start before it fails with a
 *   `BackendError` of reason `"Connect"` (default 5 seconds).
 * - `connectionName`: the `CLIENT SETNAME` of the command connection (the subscriber connection
 *   gets `<name>:sub`); default `sitq:<pid>:<random>`.
 *
 * @since 0.1.0
 * @category models
 */
export type Options = Connection & {
  readonly prefix?: string | undefined
  readonly retention?: Retention | undefined
  readonly connectTimeout?: Duration.DurationInput | undefined
  readonly connectionName?: string | undefined
}

/** The version of the key layout described in `./scripts.ts`, kept in `sitq:{prefix}:meta`. */
const LAYOUT_VERSION = "1"

type Arg = string | Buffer | number

const liveClock = Clock.make()

const toBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

const messageOf = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

const queryError = (what: string) => (cause: unknown): BackendError =>
  new BackendError({
    reason: /Connection is closed/i.test(messageOf(cause))
      ? "Closed"
      : /max retries per request|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Command timed out|Stream isn't writeable/i
          .test(messageOf(cause))
      ? "Unavailable"
      : "Query",
    message: `redis ${what}: ${messageOf(cause)}`,
    cause
  })

const str = (value: unknown): string =>
  Buffer.isBuffer(value) ? value.toString("utf8") : typeof value === "string" ? value : String(value)

const bytes = (value: unknown): Uint8Array =>
  Buffer.isBuffer(value) ? value : Buffer.from(typeof value === "string" ? value : "", "utf8")

const isStatus = (s: string): s is Backend.TaskStatus => (statuses as ReadonlyArray<string>).includes(s)

/** The fields of a task hash, in the order the scripts (and `get`) return them. */
const FIELDS = [
  "id",
  "queue",
  "name",
  "payload",
  "priority",
  "status",
  "runAt",
  "attempts",
  "leaseOwner",
  "leaseUntil",
  "enqueuedAt",
  "startedAt",
  "finishedAt",
  "result",
  "errTag",
  "errMsg",
  "errData",
  "traceback",
  "key",
  "failureTimes"
] as const

/** Decodes a record from its fields' values in `FIELDS` order (null where a field is absent). */
const toRecord = (values: unknown): Option.Option<Backend.TaskRecord> => {
  if (!Array.isArray(values) || values.length < FIELDS.length || values[0] === null) return Option.none()
  const text = (i: number): string | null => values[i] === null ? null : str(values[i])
  const num = (i: number): number | null => values[i] === null ? null : Number(str(values[i]))
  const blob = (i: number): Uint8Array | null => values[i] === null ? null : bytes(values[i])
  const status = text(5) ?? ""
  const errTag = text(14)
  // lease fields are left in the hash when a task leaves in_progress; they mean nothing then
  const leased = status === "in_progress"
  return Option.some({
    id: text(0) ?? "",
    queue: text(1) ?? "",
    name: text(2) ?? "",
    payload: blob(3) ?? new Uint8Array(0),
    priority: num(4) ?? 0,
    status: isStatus(status) ? status : "pending",
    runAt: num(6) ?? 0,
    attempts: num(7) ?? 0,
    leaseOwner: leased ? text(8) : null,
    leaseUntil: leased ? num(9) : null,
    enqueuedAt: num(10) ?? 0,
    startedAt: num(11),
    finishedAt: num(12),
    result: blob(13),
    error: errTag === null ? null : { tag: errTag, message: text(15) ?? "", data: blob(16) },
    traceback: text(17),
    key: text(18),
    failureTimes: decodeFailureTimes(text(19))
  })
}

/**
 * Decodes a claimed record: queue, id, name, payload, priority, runAt, attempts (after the claim),
 * enqueuedAt, errTag, errMsg, errData, traceback, key, failureTimes. The rest is what the claim
 * just wrote.
 */
const toClaimed = (values: unknown, owner: string, now: number, leaseUntil: number): Option.Option<Backend.TaskRecord> => {
  if (!Array.isArray(values) || values.length < 14 || values[1] === null) return Option.none()
  const text = (i: number): string | null => values[i] === null ? null : str(values[i])
  const num = (i: number): number => Number(str(values[i]))
  const errTag = text(8)
  return Option.some({
    id: str(values[1]),
    queue: str(values[0]),
    name: str(values[2]),
    payload: values[3] === null ? new Uint8Array(0) : bytes(values[3]),
    priority: num(4),
    status: "in_progress",
    runAt: num(5),
    attempts: num(6),
    leaseOwner: owner,
    leaseUntil,
    enqueuedAt: num(7),
    startedAt: now,
    finishedAt: null,
    result: null,
    error: errTag === null ? null : { tag: errTag, message: text(9) ?? "", data: values[10] === null ? null : bytes(values[10]) },
    traceback: text(11),
    key: text(12),
    failureTimes: decodeFailureTimes(text(13))
  })
}

const toRecords = (reply: unknown): Array<Backend.TaskRecord> => {
  const out: Array<Backend.TaskRecord> = []
  if (Array.isArray(reply)) {
    for (const flat of reply) {
      const rec = toRecord(flat)
      if (Option.isSome(rec)) out.push(rec.value)
    }
  }
  return out
}

const strings = (reply: unknown): Array<string> => Array.isArray(reply) ? reply.map(str) : []

const decodeEvents = (message: string, self: string): ReadonlyArray<Backend.BackendEvent> => {
  const a = message.indexOf("\n")
  const b = message.indexOf("\n", a + 1)
  if (a < 0 || b < 0 || message.slice(0, a) === self) return []
  const body = message.slice(b + 1)
  switch (message.slice(a + 1, b)) {
    case "R":
      return [{ _tag: "Ready", queue: body }]
    case "F":
      return [{ _tag: "Finished", ids: body.split("\n") }]
    case "C":
      return [{ _tag: "Cancelled", ids: [body] }, { _tag: "Finished", ids: [body] }]
    default:
      return []
  }
}

/** Redis server errors that mean "this is not a sitq store" (a key of the wrong type). */
const schemaOrQuery = (what: string) => (cause: unknown): BackendError =>
  /WRONGTYPE/.test(messageOf(cause))
    ? new BackendError({ reason: "Schema", message: `redis ${what}: not a sitq store: ${messageOf(cause)}`, cause })
    : queryError(what)(cause)

/** A connection to a single server or to a cluster: both speak the same commands. */
type Client = Redis | Cluster

/** Builds the (not yet connected) client; `started` turns reconnection on once the first connect worked. */
const makeClient = (
  options: Options,
  connectionName: string,
  timeoutMs: number,
  autoPipelining: boolean,
  started: () => boolean
): Client => {
  if ("cluster" in options) {
    const base: ClusterOptions = options.clusterOptions ?? {}
    return new Cluster(Array.from(options.cluster), {
      ...base,
      lazyConnect: true,
      enableAutoPipelining: base.enableAutoPipelining ?? autoPipelining,
      clusterRetryStrategy: (times: number, reason?: Error) =>
        started()
          ? (base.clusterRetryStrategy ? base.clusterRetryStrategy(times, reason) : Math.min(100 + times * 50, 2000))
          : null,
      redisOptions: {
        ...base.redisOptions,
        connectionName,
        connectTimeout: base.redisOptions?.connectTimeout ?? timeoutMs
      }
    })
  }
  const base: RedisOptions = options.options ?? {}
  const merged: RedisOptions = {
    ...base,
    lazyConnect: true,
    connectionName,
    connectTimeout: base.connectTimeout ?? timeoutMs,
    enableAutoPipelining: base.enableAutoPipelining ?? autoPipelining,
    retryStrategy: (times: number) =>
      started() ? (base.retryStrategy ? base.retryStrategy(times) : Math.min(times * 50, 1000)) : null
  }
  return "url" in options
    ? new Redis(typeof options.url === "string" ? options.url : Redacted.value(options.url), merged)
    : new Redis(merged)
}

/**
 * Opens one connection and checks it at once: a server that is not there fails with reason
 * `"Connect"` within the connect timeout instead of retrying forever. Once connected, a lost
 * connection is retried with backoff (commands wait in ioredis' offline queue meanwhile).
 */
const connection = (
  options: Options,
  connectionName: string,
  connectTimeout: Duration.Duration,
  autoPipelining: boolean
): Effect.Effect<Client, BackendError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.flatMap(Effect.runtime<never>(), (runtime) => {
      const state = { started: false, lastError: "", down: false }
      const timeoutMs = Math.max(1, Math.round(Duration.toMillis(connectTimeout)))
      const client = makeClient(options, connectionName, timeoutMs, autoPipelining, () => state.started)
      const log = (effect: Effect.Effect<void>) =>
        Runtime.runFork(runtime)(Effect.annotateLogs(effect, { connection: connectionName }))
      client.on("error", (error: unknown) => {
        state.lastError = messageOf(error)
      })
      // After startup, say once when the connection is lost and once when it is back.
      client.on("reconnecting", () => {
        if (!state.started || state.down) return
        state.down = true
        log(Effect.logWarning(`sitq: redis connection lost (${state.lastError || "closed"}); reconnecting`))
      })
      client.on("ready", () => {
        if (!state.down) return
        state.down = false
        log(Effect.logInfo("sitq: redis connection re-established"))
      })
      const fail = (cause: unknown) =>
        new BackendError({
          reason: "Connect",
          message: `redis: cannot connect (${connectionName}): ${state.lastError || messageOf(cause)}`,
          cause
        })
      return Effect.tryPromise({ try: () => client.connect(), catch: fail }).pipe(
        Effect.timeoutFail({
          duration: connectTimeout,
          onTimeout: () => fail(new Error(`no connection within ${Duration.format(connectTimeout)}`))
        }),
        Effect.withClock(liveClock),
        Effect.tapError(() => Effect.sync(() => client.disconnect())),
        Effect.map(() => {
          state.started = true
          return client
        })
      )
    }),
    (client) =>
      Effect.promise(() => client.quit().catch(() => "OK")).pipe(
        Effect.timeout("2 seconds"),
        Effect.withClock(liveClock),
        Effect.ignore,
        Effect.ensuring(Effect.sync(() => client.disconnect()))
      )
  )

/**
 * Builds a Redis backend. The two connections (commands, and a subscriber for wake-ups) live as
 * long as the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Backend.Backend, BackendError, Scope.Scope> =>
  Effect.gen(function*() {
    if ("url" in options) {
      yield* checkUrl("redis", typeof options.url === "string" ? options.url : Redacted.value(options.url), [
        "redis:",
        "rediss:"
      ])
    }
    const prefix = options.prefix ?? "default"
    const base = `sitq:{${prefix}}:`
    const routingKey = `${base}all`
    const channel = `${base}events`
    const instance = randomUUID()
    const retention = retentionOf(options.retention ?? "24 hours").keep
    const retentionMs = Duration.isFinite(retention) ? String(Math.max(1, Math.round(Duration.toMillis(retention)))) : "-1"
    const connectTimeout = Duration.decode(options.connectTimeout ?? "5 seconds")
    const name = options.connectionName ?? `sitq:${process.pid}:${instance.slice(0, 8)}`

    const events = yield* Events.make
    // No auto-pipelining by default: every operation is already one script call per batch, and
    // auto-pipelining would hold each call back by one turn of the event loop (measured: a
    // claim-settle loop ran 10-40% slower with it). `options.enableAutoPipelining` turns it on.
    const client = yield* connection(options, name, connectTimeout, false)
    const subscriber = yield* connection(options, `${name}:sub`, connectTimeout, false)

    // The store's marker: a hash with the layout version. Anything else under the prefix is not ours.
    const marker = yield* Effect.tryPromise({
      try: () => client.multi().hsetnx(`${base}meta`, "version", LAYOUT_VERSION).hget(`${base}meta`, "version").exec(),
      catch: schemaOrQuery("open")
    }).pipe(Effect.map((replies) => {
      const failed = replies?.find(([error]) => error !== null)?.[0]
      return failed ? { error: failed } : { version: str(replies?.[1]?.[1] ?? "") }
    }))
    if ("error" in marker) return yield* Effect.fail(schemaOrQuery("open")(marker.error))
    if (marker.version !== LAYOUT_VERSION) {
      return yield* Effect.fail(
        new BackendError({
          reason: "Schema",
          message: `redis: the keys under ${base} are a sitq store of layout ${marker.version}; this version reads layout ${LAYOUT_VERSION}`
        })
      )
    }

    const run = (script: Script, args: ReadonlyArray<Arg>) =>
      Effect.tryPromise({
        try: () => runScript(client, script, routingKey, [base, instance, ...args]),
        catch: schemaOrQuery(script.name)
      })

    const onMessage = (ch: string, message: string) => {
      if (ch !== channel) return
      for (const event of decodeEvents(message, instance)) events.unsafePublish(event)
    }
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => subscriber.subscribe(channel),
        catch: (cause) =>
          new BackendError({ reason: "Connect", message: `redis: cannot subscribe: ${messageOf(cause)}`, cause })
      }).pipe(Effect.zipRight(Effect.sync(() => subscriber.on("message", onMessage)))),
      () => Effect.sync(() => subscriber.off("message", onMessage))
    )

    const publish = events.publish

    const readyEvents = Events.ready

    const enqueue: Backend.Backend["enqueue"] = (tasks) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const args: Array<Arg> = [String(now), retentionMs, tasks.length]
        for (const t of tasks) {
          args.push(
            t.id,
            t.queue,
            t.name,
            toBuffer(t.payload),
            String(t.priority),
            String(t.runAt),
            t.key === null ? "0" : "1",
            t.key ?? ""
          )
        }
        return run(scripts.enqueue, args).pipe(
          Effect.flatMap((reply) => {
            const flat = strings(reply)
            const out: Array<Backend.Enqueued> = []
            const touched: Array<string> = []
            for (let i = 0; i < tasks.length; i++) {
              const inserted = flat[i * 2 + 1] === "1"
              out.push({ id: flat[i * 2] ?? tasks[i]!.id, inserted })
              if (inserted) touched.push(tasks[i]!.queue)
            }
            return Effect.as(publish(readyEvents(touched)), out)
          })
        )
      })

    const claim: Backend.Backend["claim"] = (request) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const leaseUntil = now + request.leaseMillis
        return run(scripts.claim, [
          String(now),
          request.owner,
          request.limit,
          String(leaseUntil),
          ...new Set(request.queues)
        ]).pipe(Effect.map((reply) => {
          const out: Array<Backend.TaskRecord> = []
          if (Array.isArray(reply)) {
            for (const values of reply) {
              const rec = toClaimed(values, request.owner, now, leaseUntil)
              if (Option.isSome(rec)) out.push(rec.value)
            }
          }
          return out
        }))
      })

    const heartbeat: Backend.Backend["heartbeat"] = (leases, leaseMillis) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const args: Array<Arg> = [String(now), String(now + leaseMillis), leases.length]
        for (const l of leases) args.push(l.id, l.owner, String(l.attempt))
        return run(scripts.heartbeat, args).pipe(Effect.map(strings))
      })

    const settle: Backend.Backend["settle"] = (outcomes) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const args: Array<Arg> = [String(now), retentionMs, outcomes.length]
        for (const o of outcomes) {
          const { attempt, id, owner } = o.lease
          switch (o._tag) {
            case "Succeeded":
              args.push("S", id, owner, String(attempt), toBuffer(o.result))
              break
            case "Released":
              args.push("R", id, owner, String(attempt))
              break
            case "Failed":
            case "Retrying": {
              args.push(o._tag === "Failed" ? "F" : "T", id, owner, String(attempt))
              if (o._tag === "Retrying") args.push(String(o.runAt))
              args.push(encodeFailureTimes(o.failureTimes))
              args.push(
                (o.error.data === null ? "" : "D") + (o.traceback === null ? "" : "T"),
                o.error.tag,
                o.error.message
              )
              if (o.error.data !== null) args.push(toBuffer(o.error.data))
              if (o.traceback !== null) args.push(o.traceback)
              break
            }
          }
        }
        return run(scripts.settle, args).pipe(Effect.flatMap((reply) => {
          const queues = strings(reply)
          const finished: Array<string> = []
          const requeued: Array<string> = []
          const accepted = outcomes.map((o, i) => {
            const q = queues[i] ?? ""
            if (q === "") return false
            if (o._tag === "Succeeded" || o._tag === "Failed") finished.push(o.lease.id)
            else requeued.push(q)
            return true
          })
          return Effect.as(publish(Events.settled(requeued, finished)), accepted)
        }))
      })

    const cancel: Backend.Backend["cancel"] = (id) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        run(scripts.cancel, [String(now), retentionMs, id]).pipe(Effect.flatMap((reply) => {
          const result = str(reply)
          if (result === "cancelled") {
            return Effect.as(
              publish(Events.cancelled([id])),
              "cancelled" as const
            )
          }
          return Effect.succeed(result === "finished" ? "finished" as const : "not_found" as const)
        })))

    const retry: Backend.Backend["retry"] = (id) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        run(scripts.retry, [String(now), retentionMs, id]).pipe(Effect.flatMap((reply) => {
          const [result, queue] = strings(reply)
          if (result === "requeued") return Effect.as(publish(readyEvents([queue ?? ""])), "requeued" as const)
          return Effect.succeed(
            result === "not_finished" || result === "key_held" ? result : "not_found" as const
          )
        })))

    const get: Backend.Backend["get"] = (id) =>
      Effect.tryPromise({ try: () => client.hmgetBuffer(`${base}t:${id}`, ...FIELDS), catch: schemaOrQuery("get") })
        .pipe(Effect.map(toRecord))

    const list: Backend.Backend["list"] = (filter) =>
      run(scripts.list, [
        filter.status ?? "",
        filter.queue ?? "",
        filter.name === undefined ? "0" : "1",
        filter.name ?? "",
        filter.limit === undefined ? -1 : Math.max(0, Math.floor(filter.limit)),
        filter.newestFirst === true ? "1" : "0"
      ]).pipe(Effect.map(toRecords))

    const stats: Backend.Backend["stats"] = (queue) =>
      run(scripts.stats, [queue ?? ""]).pipe(Effect.map((reply) => {
        const n = strings(reply).map(Number)
        return { pending: n[0] ?? 0, in_progress: n[1] ?? 0, success: n[2] ?? 0, failed: n[3] ?? 0, cancelled: n[4] ?? 0 }
      }))

    const purge: Backend.Backend["purge"] = (filter) => {
      const wanted = filter.statuses ?? ["success", "failed", "cancelled"]
      const step = (si: number, offset: number, total: number): Effect.Effect<number, BackendError> =>
        run(scripts.purge, [
          wanted.join(","),
          filter.finishedBefore === undefined ? "0" : "1",
          filter.finishedBefore === undefined ? "0" : String(filter.finishedBefore),
          filter.queue ?? "",
          si,
          offset,
          1000
        ]).pipe(Effect.flatMap((reply) => {
          const [deleted, nextSi, nextOffset] = strings(reply).map(Number)
          const sum = total + (deleted ?? 0)
          return nextSi === undefined || nextSi === 0 ? Effect.succeed(sum) : step(nextSi, nextOffset ?? 0, sum)
        }))
      return step(1, 0, 0)
    }

    const nextWakeAt: Backend.Backend["nextWakeAt"] = (queues) =>
      run(scripts.nextWakeAt, queues).pipe(
        Effect.map((reply) => reply === null || reply === undefined ? Option.none() : Option.some(Number(str(reply))))
      )

    return guarded({
      name: "redis",
      // Pub/sub from the scripts: every change reaches every instance's subscribers.
      capabilities: { pushesAcrossProcesses: true },
      enqueue,
      claim,
      heartbeat,
      settle,
      cancel,
      retry,
      get,
      list,
      stats,
      purge,
      nextWakeAt,
      subscribe: events.subscribe
    })
  })

/**
 * A Redis backend for the layer's lifetime. Fails with a `BackendError` of reason `"Connect"` when
 * the server cannot be reached within `connectTimeout`.
 *
 * @example
 * ```ts
 * import { RedisBackend } from "sitq/redis"
 *
 * const BackendLive = RedisBackend.layer({ url: "redis://127.0.0.1:6379", prefix: "mail" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Backend.Backend, BackendError> =>
  Layer.scoped(BackendTag, make(options))

/**
 * The layer with its options read from `Config`.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { RedisBackend } from "sitq/redis"
 *
 * const BackendLive = RedisBackend.layerConfig(
 *   Config.all({ url: Config.redacted("REDIS_URL"), prefix: Config.withDefault(Config.string("SITQ_PREFIX"), "default") })
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<Options>
): Layer.Layer<Backend.Backend, BackendError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(config, layer))
