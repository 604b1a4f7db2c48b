/**
 * The NATS JetStream backend. Layout (see docs/backends/nats.md):
 *
 * - one KV bucket `sitq_<prefix>` (history 1, file storage) holds the store: `t.<id>` → task
 *   record (./record.ts), `k.<sha256 of the dedup key>` → id of the task holding that key,
 *   `m.version` → layout version;
 * - every state change of a task is one compare-and-set write of its record at the revision it
 *   was read at (`Nats-Expected-Last-Subject-Sequence`): claim, heartbeat and settle are fenced by
 *   the revision and by owner/attempt in the record, so two claimers of one task cannot both win
 *   and a worker that lost its lease cannot settle;
 * - due-ness is decided in each process, from Effect's `Clock`, on an index of the unfinished
 *   tasks (./mirror.ts) built at start from one scan of the bucket and kept current by a watch
 *   from the scan's last revision: a claim takes candidates from the index in claim order and
 *   compare-and-sets them, so it costs one write per claimed task and no scan;
 * - the watch is also the push channel: another process's enqueue, requeue or cancellation is
 *   delivered to every process as a record change and turned into `Ready` / `Cancelled` /
 *   `Finished` events, so workers wake and running tasks are interrupted across processes.
 *
 * @internal
 */
import { jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import type { KV, KvEntry } from "@nats-io/kv"
import { connect } from "@nats-io/transport-node"
import type { NatsConnection, NodeConnectionOptions } from "@nats-io/transport-node"
import { Clock, Duration, Effect, Option, Redacted, Runtime, Schedule } from "effect"
import type { Scope } from "effect"
import { createHash, randomUUID } from "node:crypto"
import type * as Backend from "../../Backend.js"
import { emptyStats, isFinished } from "../../Backend.js"
import { BackendError } from "../../Errors.js"
import { Mirror } from "./mirror.js"
import type { Entry } from "./mirror.js"
import * as Events from "../kit/events.js"
import { guarded } from "../kit/guard.js"
import { rounds } from "../kit/order.js"
import type { Retention } from "../kit/purge.js"
import { retentionOf } from "../kit/purge.js"
import * as Record from "./record.js"
import * as Writer from "./writer.js"

/**
 * Options of the NATS backend.
 *
 * - `servers`: the NATS server(s), `"127.0.0.1:4222"` or `"nats://host:4222"` (default
 *   `"127.0.0.1:4222"`); a `Redacted` URL when it carries credentials;
 * - `options`: any other connection option of `@nats-io/transport-node` (user/pass, token,
 *   nkeys, TLS, ...);
 * - `prefix`: the store's name; its bucket is `sitq_<prefix>` (letters, digits, `-`, `_`;
 *   default `"default"`);
 * - `retention`: how long finished tasks are kept before a scheduled purge deletes them, as a
 *   duration or `{ finishedOlderThan, every }` (default 24 hours, purged every minute;
 *   `Duration.infinity` keeps them until `purge`). The purge reads the whole bucket, so a large
 *   store wants a longer `every`;
 * - `connectTimeout`: how long the layer waits for the server at start before it fails with a
 *   `BackendError` of reason `"Connect"` (default 5 seconds);
 * - `requestTimeout`: how long one write or read waits for the server (default 5 seconds);
 * - `replicas`: replicas of the bucket's stream on a clustered server (default 1);
 * - `connectionName`: the connection's name as the server shows it.
 *
 * @since 0.1.0
 * @category models
 */
export interface NatsBackendOptions {
  readonly servers?: string | Redacted.Redacted<string> | ReadonlyArray<string> | undefined
  readonly options?: Omit<NodeConnectionOptions, "servers"> | undefined
  readonly prefix?: string | undefined
  readonly retention?: Retention | undefined
  readonly connectTimeout?: Duration.DurationInput | undefined
  readonly requestTimeout?: Duration.DurationInput | undefined
  readonly replicas?: number | undefined
  readonly connectionName?: string | undefined
}

const LAYOUT_VERSION = "1"
const liveClock = Clock.make()
const encoder = new TextEncoder()
const decoder = new TextDecoder()

const messageOf = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

const failure = (what: string, reason: BackendError["reason"] = "Unavailable") => (cause: unknown): BackendError =>
  new BackendError({
    reason: /closed/i.test(messageOf(cause)) ? "Closed" : reason,
    message: `nats ${what}: ${messageOf(cause)}`,
    cause
  })

/** A record, the revision it was read at and its enqueue sequence (rec null: no such task). */
interface Read {
  readonly rec: Backend.TaskRecord | null
  readonly rev: number
  readonly seq: number
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

const holds = (rec: Backend.TaskRecord, lease: Backend.Lease): boolean =>
  rec.status === "in_progress" && rec.leaseOwner === lease.owner && rec.attempts === lease.attempt

/** A write that failed for another reason than a conflict (the connection, the server). */
class Trouble {
  constructor(readonly message: string) {}
}

/** The lease fields of a task nobody holds. */
const noLease = { leaseOwner: null, leaseUntil: null } as const

/** The record an accepted outcome leaves. */
const settled = (rec: Backend.TaskRecord, outcome: Backend.Outcome, now: number): Backend.TaskRecord => {
  switch (outcome._tag) {
    case "Succeeded":
      return { ...rec, ...noLease, status: "success", result: outcome.result, error: null, traceback: null, finishedAt: now }
    case "Failed":
      return {
        ...rec,
        ...noLease,
        status: "failed",
        error: outcome.error,
        traceback: outcome.traceback,
        failureTimes: outcome.failureTimes,
        finishedAt: now
      }
    case "Retrying":
      return {
        ...rec,
        ...noLease,
        status: "pending",
        runAt: outcome.runAt,
        error: outcome.error,
        traceback: outcome.traceback,
        failureTimes: outcome.failureTimes
      }
    case "Released":
      return { ...rec, ...noLease, status: "pending", attempts: Math.max(0, rec.attempts - 1) }
  }
}

const keyName = (key: string): string => `k.${createHash("sha256").update(key).digest("hex")}`

const serversOf = (servers: NatsBackendOptions["servers"]): string | Array<string> =>
  servers === undefined
    ? "127.0.0.1:4222"
    : typeof servers === "string"
    ? servers
    : Redacted.isRedacted(servers)
    ? Redacted.value(servers)
    : Array.from(servers)

/** Opens the connection; a server that is not there fails within the connect timeout. */
const connection = (
  options: NatsBackendOptions,
  name: string,
  connectTimeout: Duration.Duration
): Effect.Effect<NatsConnection, BackendError, Scope.Scope> => {
  const fail = (cause: unknown) =>
    new BackendError({ reason: "Connect", message: `nats: cannot connect (${name}): ${messageOf(cause)}`, cause })
  const timeoutMs = Math.max(1, Math.round(Duration.toMillis(connectTimeout)))
  return Effect.acquireRelease(
    Effect.tryPromise({
      try: () =>
        connect({
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
          ...options.options,
          servers: serversOf(options.servers),
          name,
          timeout: timeoutMs
        }),
      catch: fail
    }).pipe(
      Effect.timeoutFail({ duration: connectTimeout, onTimeout: () => fail(`no connection within ${Duration.format(connectTimeout)}`) }),
      Effect.withClock(liveClock)
    ),
    (nc) =>
      Effect.promise(() => nc.close().catch(() => undefined)).pipe(
        Effect.timeout("2 seconds"),
        Effect.withClock(liveClock),
        Effect.ignore
      )
  )
}

/** Opens the store's bucket, creating it when missing, and checks its layout version. */
const openBucket = (nc: NatsConnection, bucket: string, replicas: number, timeoutMs: number) =>
  Effect.gen(function*() {
    const jsm = yield* Effect.tryPromise({
      try: () => jetstreamManager(nc, { timeout: timeoutMs }),
      catch: failure("open (is JetStream enabled on the server?)", "Connect")
    })
    const js = jetstream(nc, { timeout: timeoutMs })
    const kvm = new Kvm(js)
    const kv = yield* Effect.tryPromise({
      try: () =>
        kvm.create(bucket, { history: 1, storage: StorageType.File, replicas }).catch(() => kvm.open(bucket)),
      catch: failure(`open bucket ${bucket}`, "Connect")
    })
    const marker = yield* Effect.tryPromise({
      try: () =>
        kv.create("m.version", encoder.encode(LAYOUT_VERSION)).then(
          () => LAYOUT_VERSION,
          () => kv.get("m.version").then((e) => e === null ? "" : e.string())
        ),
      catch: failure("open", "Schema")
    })
    if (marker !== LAYOUT_VERSION) {
      return yield* Effect.fail(
        new BackendError({
          reason: "Schema",
          message: `nats: bucket ${bucket} is a sitq store of layout ${marker || "(none)"}; this version reads layout ${LAYOUT_VERSION}`
        })
      )
    }
    return { js, jsm, kv }
  })

/**
 * Builds a NATS backend for the scope's lifetime.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: NatsBackendOptions = {}): Effect.Effect<Backend.Backend, BackendError, Scope.Scope> =>
  Effect.gen(function*() {
    const prefix = options.prefix ?? "default"
    if (!/^[A-Za-z0-9_-]+$/.test(prefix)) {
      return yield* Effect.fail(
        new BackendError({ reason: "Schema", message: `nats: prefix '${prefix}' may only hold letters, digits, '-' and '_'` })
      )
    }
    const bucket = `sitq_${prefix}`
    const stream = `KV_${bucket}`
    const subjectOf = (key: string) => `$KV.${bucket}.${key}`
    const connectTimeout = Duration.decode(options.connectTimeout ?? "5 seconds")
    const requestMs = Math.max(1, Math.round(Duration.toMillis(Duration.decode(options.requestTimeout ?? "5 seconds"))))
    const name = options.connectionName ?? `sitq:${process.pid}:${randomUUID().slice(0, 8)}`
    const runtime = yield* Effect.runtime<never>()
    const log = (effect: Effect.Effect<void>) =>
      Runtime.runFork(runtime)(Effect.annotateLogs(effect, { connection: name }))

    const events = yield* Events.make
    const nc = yield* connection(options, name, connectTimeout)
    const { js, jsm, kv } = yield* openBucket(nc, bucket, options.replicas ?? 1, requestMs)
    const writer = yield* Effect.acquireRelease(
      Effect.sync(() => Writer.make(nc, Math.ceil(requestMs / 1000))),
      (w) => Effect.sync(() => w.close())
    )
    yield* Effect.sync(() => writer.tick()).pipe(
      Effect.repeat(Schedule.spaced("1 second")),
      Effect.withClock(liveClock),
      Effect.forkScoped
    )
    // Say once when the connection is lost and once when it is back; writes in flight fail at once.
    yield* Effect.forkScoped(Effect.promise(async () => {
      for await (const status of nc.status()) {
        if (status.type === "disconnect") {
          writer.failAll("connection lost")
          log(Effect.logWarning("sitq: nats connection lost; reconnecting"))
        } else if (status.type === "reconnect") {
          log(Effect.logInfo("sitq: nats connection re-established"))
        }
      }
    }))

    const mirror = new Mirror()

    const publish = events.publish

    const readEntry = (entry: KvEntry | null): Read => {
      if (entry === null) return { rec: null, rev: 0, seq: 0 }
      const stored = entry.operation === "PUT" ? Record.decode(entry.value, entry.revision) : undefined
      return stored === undefined
        ? { rec: null, rev: entry.revision, seq: entry.revision }
        : { rec: stored.rec, rev: entry.revision, seq: stored.seq }
    }
    const fetch = (id: string): Promise<Read> => kv.get(`t.${id}`).then(readEntry)
    /** Reads a record again after a refused write; the index learns it too. */
    const refresh = (id: string): Promise<Entry | undefined> =>
      fetch(id).then((read) => {
        mirror.apply(id, read.rec, read.rev, read.seq)
        return mirror.get(id)
      })
    /**
     * The bytes of this process's writes still waiting for their acknowledgement, per task: when
     * the watch delivers one of them before its acknowledgement, it is recognized as ours and
     * applied without events (the operation publishes its own).
     */
    const own = new Map<string, Array<Uint8Array>>()
    /**
     * Compare-and-sets a record at `rev` (0: creates it); `seq` null when creating. `acked` runs
     * on the acknowledgement while the write still counts as this process's own, so what it
     * records (the index entry of a created task) is in place before a late echo is judged.
     */
    const write = (
      rec: Backend.TaskRecord,
      rev: number,
      seq: number | null,
      acked?: (result: Awaited<ReturnType<typeof writer.write>>) => void
    ) => {
      const data = Record.encode(rec, seq)
      const mine = own.get(rec.id)
      if (mine === undefined) own.set(rec.id, [data])
      else mine.push(data)
      return writer.write(subjectOf(`t.${rec.id}`), data, rev).then((result) => {
        acked?.(result)
        const left = own.get(rec.id)
        if (left !== undefined) {
          const i = left.indexOf(data)
          if (i >= 0) left.splice(i, 1)
          if (left.length === 0) own.delete(rec.id)
        }
        return result
      })
    }

    /**
     * Every record of the store as of the stream's last sequence when the scan starts (later
     * writes seen on the way count too; each task is reported once, at the newest revision read),
     * read with one ordered pull consumer in batches of 1,000; and the last revision seen.
     */
    const scan = (): Promise<{ readonly records: Array<Read>; readonly last: number }> =>
      jsm.streams.info(stream).then(async (info) => {
        const byId = new Map<string, Read>()
        const end = info.state.last_seq
        let last = end
        const done = () => ({ records: Array.from(byId.values()), last })
        if (info.state.messages === 0) return done()
        const consumer = await js.consumers.get(stream, { filter_subjects: subjectOf("t.>") })
        try {
          if ((await consumer.info(true)).num_pending === 0) return done()
          for (let more = true; more;) {
            const batch = await consumer.fetch({ max_messages: 1_000, expires: requestMs })
            let got = 0
            for await (const m of batch) {
              got++
              const stored = Record.decode(m.data, m.seq)
              if (m.seq > last) last = m.seq
              if (stored !== undefined) byId.set(stored.rec.id, { rec: stored.rec, rev: m.seq, seq: stored.seq })
              if (m.info.pending === 0 || m.seq >= end) {
                more = false
                break
              }
            }
            if (got === 0) more = false
          }
          return done()
        } finally {
          await consumer.delete().catch(() => false)
        }
      })

    // The index: one scan, then a watch from the revision after it.
    const initial = yield* Effect.tryPromise({ try: scan, catch: failure("open (scan)", "Connect") })
    for (const read of initial.records) {
      if (read.rec !== null && !isFinished(read.rec.status)) mirror.apply(read.rec.id, read.rec, read.rev, read.seq)
    }
    let watched = initial.last

    const onWatch = (entry: KvEntry) => {
      const id = entry.key.slice(2)
      if (mirror.isStale(id, entry.revision)) {
        // The echo of a write this process applied already: nothing to decode.
        mirror.watchedUpTo(entry.revision)
        if (entry.revision > watched) watched = entry.revision
        return
      }
      const read = readEntry(entry)
      const change = entry.operation === "PUT" && read.rec === null
        ? "stale"
        : mirror.apply(id, read.rec, read.rev, read.seq)
      mirror.watchedUpTo(entry.revision)
      if (entry.revision > watched) watched = entry.revision
      const rec = read.rec
      if (rec === null) return
      // this process's own write, seen before its acknowledgement: its operation publishes the events
      if (own.get(id)?.some((data) => sameBytes(data, entry.value)) === true) return
      switch (change) {
        case "pending":
          events.unsafePublish({ _tag: "Ready", queue: rec.queue })
          break
        case "finished":
          if (rec.status === "cancelled") events.unsafePublish({ _tag: "Cancelled", ids: [id] })
          events.unsafePublish({ _tag: "Finished", ids: [id] })
          break
        default:
          break
      }
    }
    // The watch, restarted from where it stopped if it ever ends while the backend is open.
    const watchOnce = Effect.async<void>((resume) => {
      let stop: (() => void) | undefined
      let stopped = false
      kv.watch({ key: "t.>", resumeFromRevision: watched + 1 }).then(
        async (iterator) => {
          stop = () => iterator.stop()
          if (stopped) iterator.stop()
          for await (const entry of iterator) onWatch(entry)
          resume(Effect.void)
        },
        () => resume(Effect.void)
      )
      return Effect.sync(() => {
        stopped = true
        stop?.()
      })
    })
    yield* watchOnce.pipe(
      Effect.zipRight(Effect.sleep("500 millis").pipe(Effect.withClock(liveClock))),
      Effect.forever,
      Effect.forkScoped
    )

    // ---------------------------------------------------------------------------------------
    // enqueue

    type Reservation =
      | { readonly _tag: "Reserved"; readonly rev: number }
      | { readonly _tag: "Existing"; readonly id: string }
      | { readonly _tag: "Failed"; readonly message: string }

    /** Makes `id` the holder of `key` unless an unfinished task holds it. */
    const reserveKey = async (key: string, id: string): Promise<Reservation> => {
      const k = keyName(key)
      for (let round = 0; round < 8; round++) {
        const created = await writer.write(subjectOf(k), encoder.encode(id), 0)
        if (created._tag === "Written") return { _tag: "Reserved", rev: created.seq }
        if (created._tag === "Failed") return created
        const current = await kv.get(k)
        if (current === null || current.operation !== "PUT") continue
        const holder = decoder.decode(current.value)
        if (holder === id) return { _tag: "Reserved", rev: current.revision }
        const held = await fetch(holder)
        if (held.rec !== null && !isFinished(held.rec.status)) return { _tag: "Existing", id: holder }
        const taken = await writer.write(subjectOf(k), encoder.encode(id), current.revision)
        if (taken._tag === "Written") return { _tag: "Reserved", rev: taken.seq }
        if (taken._tag === "Failed") return taken
      }
      return { _tag: "Failed", message: `dedup key '${key}' is contended` }
    }

    const dropMessages = (seqs: ReadonlyArray<number>) =>
      Promise.all(seqs.map((seq) => jsm.streams.deleteMessage(stream, seq, false).catch(() => false)))

    /**
     * Creates the records first, then takes the dedup keys of the keyed ones: a key's holder is
     * always a task that exists, so concurrent enqueues (and retries) of one key find each other's
     * tasks live and exactly one keeps the key; the others delete their record again and answer
     * the holder's id.
     */
    const enqueueAt = async (tasks: ReadonlyArray<Backend.NewTask>, now: number) => {
      const out: Array<Backend.Enqueued> = new Array(tasks.length)
      const firstOfKey = new Map<string, number>()
      const inserts: Array<{ readonly index: number; readonly rec: Backend.TaskRecord }> = []
      for (let i = 0; i < tasks.length; i++) {
        const t = tasks[i]!
        if (t.key !== null) {
          if (firstOfKey.has(t.key)) continue
          firstOfKey.set(t.key, i)
        }
        inserts.push({
          index: i,
          rec: {
            id: t.id,
            queue: t.queue,
            name: t.name,
            payload: t.payload,
            priority: t.priority,
            status: "pending",
            runAt: t.runAt,
            attempts: 0,
            leaseOwner: null,
            leaseUntil: null,
            enqueuedAt: now,
            startedAt: null,
            finishedAt: null,
            result: null,
            error: null,
            traceback: null,
            key: t.key,
            failureTimes: []
          }
        })
      }
      // Each created record is indexed on its own acknowledgement, so that its echo on the watch,
      // however late, is known as this process's write (and publishes no second Ready).
      const written = await Promise.all(inserts.map(({ rec }) =>
        write(rec, 0, null, (w) => {
          if (w._tag === "Written") mirror.apply(rec.id, rec, w.seq)
        })
      ))
      const seqs = written.map((w) => w._tag === "Written" ? w.seq : 0)
      /** Deletes created records again (and forgets them); true where the delete landed. */
      const undo = async (which: ReadonlyArray<number>) => {
        const done = await dropMessages(which.map((j) => seqs[j]!))
        which.forEach((j) => mirror.forget(inserts[j]!.rec.id, seqs[j]!))
        return done
      }
      const all = inserts.map((_, j) => j)
      const failed = written.find((w) => w._tag !== "Written")
      if (failed !== undefined) {
        // All or none: take back what was written.
        await undo(all.filter((j) => seqs[j]! > 0))
        return { error: failed._tag === "Failed" ? failed.message : "a task with this id exists" }
      }
      const keyed = all.filter((j) => inserts[j]!.rec.key !== null)
      const reservations = await Promise.all(keyed.map((j) => reserveKey(inserts[j]!.rec.key!, inserts[j]!.rec.id)))
      const trouble = reservations.find((r): r is Extract<Reservation, { _tag: "Failed" }> => r._tag === "Failed")
      if (trouble !== undefined) {
        await undo(all)
        return { error: trouble.message }
      }
      const holders = new Map<string, string>()
      const beaten: Array<number> = []
      reservations.forEach((r, k) => {
        const j = keyed[k]!
        if (r._tag === "Existing") {
          beaten.push(j)
          holders.set(inserts[j]!.rec.key!, r.id)
        }
      })
      const undone = await undo(beaten)
      // a record already claimed by someone before it could be deleted stays, as inserted
      beaten.forEach((j, k) => {
        if (!undone[k]) holders.delete(inserts[j]!.rec.key!)
      })
      const queues: Array<string> = []
      inserts.forEach(({ index, rec }) => {
        const holder = rec.key === null ? undefined : holders.get(rec.key)
        if (holder !== undefined) {
          out[index] = { id: holder, inserted: false }
          return
        }
        out[index] = { id: rec.id, inserted: true }
        queues.push(rec.queue)
      })
      for (let i = 0; i < tasks.length; i++) {
        if (out[i] !== undefined) continue
        const first = out[firstOfKey.get(tasks[i]!.key!)!]!
        out[i] = { id: first.id, inserted: false }
      }
      return { enqueued: out, queues }
    }

    const enqueue: Backend.Backend["enqueue"] = (tasks) =>
      tasks.length === 0 ? Effect.succeed([]) : Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.tryPromise({ try: () => enqueueAt(tasks, now), catch: failure("enqueue") }).pipe(
          Effect.flatMap((r) =>
            "error" in r
              ? Effect.fail(new BackendError({ reason: "Unavailable", message: `nats enqueue: ${r.error}` }))
              : Effect.as(publish(Events.ready(r.queues)), r.enqueued)
          )
        ))

    // ---------------------------------------------------------------------------------------
    // claim, heartbeat, settle

    /** How widely claims spread over equal candidates: grows while other processes win races, shrinks when none do. */
    let spread = 1

    const claimAt = async (request: Backend.ClaimRequest, now: number) => {
      const leaseUntil = now + request.leaseMillis
      const claimed: Array<Backend.TaskRecord> = []
      let error: string | undefined
      for (let round = 0; round < 8 && claimed.length < request.limit; round++) {
        const taken = mirror.take(request.queues, request.names, now, request.limit - claimed.length, spread)
        if (taken.length === 0) break
        const results = await Promise.all(taken.map((entry) => {
          const next: Backend.TaskRecord = {
            ...entry.rec,
            status: "in_progress",
            attempts: entry.rec.attempts + 1,
            leaseOwner: request.owner,
            leaseUntil,
            startedAt: now
          }
          return write(next, entry.rev, entry.seq).then((result) => ({ entry, next, result }))
        }))
        let conflicts = 0
        for (const { entry, next, result } of results) {
          if (result._tag === "Written") {
            mirror.apply(next.id, next, result.seq, entry.seq)
            claimed.push(next)
          } else if (result._tag === "Conflict") {
            // Someone else wrote it first. The watch brings that write (it is newer than what the
            // index holds) and puts the task where it belongs; until then it stays out of the heaps.
            conflicts++
          } else {
            mirror.restore(entry)
            error = result.message
          }
        }
        spread = conflicts > 0 ? Math.min(64, spread * 2) : Math.max(1, spread / 2)
        if (conflicts === 0) break
      }
      return { claimed, error }
    }

    const claim: Backend.Backend["claim"] = (request) =>
      request.queues.length === 0 || request.limit <= 0
        ? Effect.succeed([])
        : Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.tryPromise({ try: () => claimAt(request, now), catch: failure("claim") }).pipe(
            Effect.flatMap(({ claimed, error }) =>
              claimed.length === 0 && error !== undefined
                ? Effect.fail(new BackendError({ reason: "Unavailable", message: `nats claim: ${error}` }))
                : Effect.succeed(claimed)
            )
          ))

    /**
     * Writes `change(record)` for a task whose lease `lease` must still hold; a refused write is
     * retried on a fresh read. Resolves to the written record, `undefined` when the lease is not
     * held, or an error message.
     */
    const fenced = async (
      lease: Backend.Lease,
      change: (rec: Backend.TaskRecord) => Backend.TaskRecord
    ): Promise<Backend.TaskRecord | undefined | Trouble> => {
      let entry = mirror.get(lease.id)
      for (let round = 0; round < 4; round++) {
        if (entry === undefined || !holds(entry.rec, lease)) return undefined
        const next = change(entry.rec)
        const result = await write(next, entry.rev, entry.seq)
        if (result._tag === "Written") {
          mirror.apply(next.id, next, result.seq, entry.seq)
          return next
        }
        if (result._tag === "Failed") return new Trouble(result.message)
        entry = await refresh(lease.id)
      }
      return undefined
    }

    const heartbeat: Backend.Backend["heartbeat"] = (leases, leaseMillis) =>
      leases.length === 0 ? Effect.succeed([]) : Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.tryPromise({
          try: () => Promise.all(leases.map((lease) => fenced(lease, (rec) => ({ ...rec, leaseUntil: now + leaseMillis })))),
          catch: failure("heartbeat")
        }).pipe(Effect.flatMap((results) => {
          const lost = leases.filter((_, i) => results[i] === undefined).map((l) => l.id)
          const errors = results.filter((r): r is Trouble => r instanceof Trouble)
          return errors.length === leases.length
            ? Effect.fail(new BackendError({ reason: "Unavailable", message: `nats heartbeat: ${errors[0]!.message}` }))
            : Effect.succeed(lost)
        })))

    const settle: Backend.Backend["settle"] = (outcomes) =>
      outcomes.length === 0 ? Effect.succeed([]) : Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.tryPromise({
          // Two outcomes for one task go in separate rounds, in order: the second is fenced out.
          try: async () => {
            const results: Array<Backend.TaskRecord | undefined | Trouble> = new Array(outcomes.length)
            for (const round of rounds(outcomes, (o) => o.lease.id)) {
              await Promise.all(round.map((i) =>
                fenced(outcomes[i]!.lease, (rec) => settled(rec, outcomes[i]!, now)).then((r) => {
                  results[i] = r
                })
              ))
            }
            return results
          },
          catch: failure("settle")
        }).pipe(Effect.flatMap((results) => {
          const finished: Array<string> = []
          const requeued: Array<string> = []
          let error: string | undefined
          const accepted = results.map((r) => {
            if (r === undefined) return false
            if (r instanceof Trouble) {
              error = r.message
              return false
            }
            if (isFinished(r.status)) finished.push(r.id)
            else requeued.push(r.queue)
            return true
          })
          return publish(Events.settled(requeued, finished)).pipe(
            Effect.zipRight(
              error === undefined
                ? Effect.succeed(accepted)
                : Effect.fail(new BackendError({ reason: "Unavailable", message: `nats settle: ${error}` }))
            )
          )
        })))

    // ---------------------------------------------------------------------------------------
    // cancel, retry, get

    /** Reads a task and writes `change` of it at the revision read, until a write lands. */
    const rewrite = async <A>(
      id: string,
      decide: (rec: Backend.TaskRecord) => { readonly next: Backend.TaskRecord } | { readonly result: A },
      missing: A
    ): Promise<{ readonly result: A; readonly rec?: Backend.TaskRecord } | { readonly error: string }> => {
      for (let round = 0; round < 8; round++) {
        const read = await fetch(id)
        if (read.rec === null) return { result: missing }
        const decision = decide(read.rec)
        if ("result" in decision) return { result: decision.result }
        const written = await write(decision.next, read.rev, read.seq)
        if (written._tag === "Written") {
          mirror.apply(id, decision.next, written.seq, read.seq)
          return { result: missing, rec: decision.next }
        }
        if (written._tag === "Failed") return { error: written.message }
      }
      return { error: `task ${id} is contended` }
    }

    const cancel: Backend.Backend["cancel"] = (id) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.tryPromise({
          try: () =>
            rewrite<Backend.CancelResult>(id, (rec) =>
              isFinished(rec.status)
                ? { result: "finished" }
                : { next: { ...rec, ...noLease, status: "cancelled", finishedAt: now } }, "not_found"),
          catch: failure("cancel")
        }).pipe(Effect.flatMap((r) => {
          if ("error" in r) return Effect.fail(new BackendError({ reason: "Unavailable", message: `nats cancel: ${r.error}` }))
          if (r.rec === undefined) return Effect.succeed(r.result)
          return Effect.as(
            publish(Events.cancelled([id])),
            "cancelled" as const
          )
        })))

    /**
     * Requeues a failed or cancelled task, unless another live task holds its dedup key. The
     * record is requeued first and the key taken after: so every concurrent retry (or enqueue) of
     * the key finds the others' tasks already live, and exactly one keeps the key. One that finds
     * the key held puts its record back as it was (`key_held`).
     */
    const retryAt = async (id: string, now: number): Promise<
      { readonly result: Backend.RetryResult; readonly queue?: string } | Trouble
    > => {
      for (let round = 0; round < 8; round++) {
        const read = await fetch(id)
        const rec = read.rec
        if (rec === null) return { result: "not_found" }
        if (rec.status !== "failed" && rec.status !== "cancelled") return { result: "not_finished" }
        const next: Backend.TaskRecord = {
          ...rec,
          ...noLease,
          status: "pending",
          runAt: now,
          attempts: 0,
          startedAt: null,
          finishedAt: null,
          result: null,
          error: null,
          traceback: null,
          failureTimes: []
        }
        const written = await write(next, read.rev, read.seq)
        if (written._tag === "Failed") return new Trouble(written.message)
        if (written._tag === "Conflict") continue
        mirror.apply(id, next, written.seq, read.seq)
        if (rec.key !== null) {
          const reservation = await reserveKey(rec.key, id)
          if (reservation._tag !== "Reserved") {
            const back = await write(rec, written.seq, read.seq)
            if (back._tag === "Written") mirror.apply(id, rec, back.seq, read.seq)
            if (reservation._tag === "Failed") return new Trouble(reservation.message)
            // a claimer took it in the meantime: it stays requeued
            if (back._tag === "Written") return { result: "key_held" }
          }
        }
        return { result: "requeued", queue: rec.queue }
      }
      return new Trouble(`task ${id} is contended`)
    }

    const retry: Backend.Backend["retry"] = (id) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.tryPromise({ try: () => retryAt(id, now), catch: failure("retry") }).pipe(Effect.flatMap((r) => {
          if (r instanceof Trouble) {
            return Effect.fail(new BackendError({ reason: "Unavailable", message: `nats retry: ${r.message}` }))
          }
          return r.queue === undefined ? Effect.succeed(r.result) : Effect.as(publish(Events.ready([r.queue])), r.result)
        })))

    const get: Backend.Backend["get"] = (id) =>
      Effect.tryPromise({ try: () => fetch(id), catch: failure("get") }).pipe(
        Effect.map((read) => Option.fromNullable(read.rec))
      )

    // ---------------------------------------------------------------------------------------
    // list, stats, purge, retention

    const records = Effect.tryPromise({ try: scan, catch: failure("scan") }).pipe(
      Effect.map(({ records }) => records.flatMap((r) => r.rec === null ? [] : [{ rec: r.rec, rev: r.rev, seq: r.seq }]))
    )

    const list: Backend.Backend["list"] = (filter) =>
      Effect.map(records, (all) => {
        // Cursors by the enqueue sequence of their task; a task that is gone selects none (NaN).
        const seqOf = (id: string | undefined, absent: number) =>
          id === undefined ? absent : (all.find((r) => r.rec.id === id)?.seq ?? Number.NaN)
        const after = seqOf(filter.after, Number.NEGATIVE_INFINITY)
        const before = seqOf(filter.before, Number.POSITIVE_INFINITY)
        const found = all.filter(({ rec, seq }) =>
          seq > after && seq < before &&
          (filter.status === undefined || rec.status === filter.status) &&
          (filter.name === undefined || rec.name === filter.name) &&
          (filter.queue === undefined || rec.queue === filter.queue)
        )
        // enqueue order
        found.sort((a, b) => a.seq - b.seq)
        const recs = found.map((r) => r.rec)
        if (filter.newestFirst === true) recs.reverse()
        return filter.limit === undefined ? recs : recs.slice(0, Math.max(0, Math.floor(filter.limit)))
      })

    const stats: Backend.Backend["stats"] = (queue) =>
      Effect.map(records, (all) => {
        const counts = emptyStats()
        for (const { rec } of all) if (queue === undefined || rec.queue === queue) counts[rec.status]++
        return counts
      })

    /** Deletes a finished record at the revision read, and its dedup key when it still points to it. */
    const remove = async (rec: Backend.TaskRecord, rev: number): Promise<boolean> => {
      const deleted = await jsm.streams.deleteMessage(stream, rev, false).catch(() => false)
      if (deleted && rec.key !== null) {
        const holder = await kv.get(keyName(rec.key)).catch(() => null)
        if (holder !== null && holder.operation === "PUT" && decoder.decode(holder.value) === rec.id) {
          await jsm.streams.deleteMessage(stream, holder.revision, false).catch(() => false)
        }
      }
      return deleted
    }

    const purge: Backend.Backend["purge"] = (filter) => {
      const wanted = new Set<Backend.TaskStatus>(filter.statuses ?? ["success", "failed", "cancelled"])
      if (wanted.size === 0) return Effect.succeed(0)
      return Effect.flatMap(records, (all) => {
        const doomed = all.filter(({ rec }) =>
          isFinished(rec.status) && wanted.has(rec.status) &&
          (filter.queue === undefined || rec.queue === filter.queue) &&
          (filter.finishedBefore === undefined || (rec.finishedAt !== null && rec.finishedAt < filter.finishedBefore))
        )
        // Oldest first, in batches that grow from 1 to 256: a reader who finds a task gone finds
        // the older ones of a small purge gone too, and a large purge does not flood the connection.
        doomed.sort((a, b) => a.seq - b.seq)
        return Effect.tryPromise({
          try: async () => {
            let removed = 0
            for (let i = 0, size = 1; i < doomed.length; i += size, size = Math.min(256, size * 2)) {
              const done = await Promise.all(doomed.slice(i, i + size).map(({ rec, rev }) => remove(rec, rev)))
              removed += done.filter(Boolean).length
            }
            return removed
          },
          catch: failure("purge")
        })
      })
    }

    const nextWakeAt: Backend.Backend["nextWakeAt"] = (queues, names) =>
      Effect.map(Clock.currentTimeMillis, (now) => Option.fromNullable(mirror.nextWakeAt(queues, now, names)))

    const backend = guarded({
      name: "nats",
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
    // Retention: every `every`, purge what finished more than `keep` ago. The period is counted
    // from the start of each purge, and a purge that took a whole period (it reads the bucket) is
    // followed by the next one at once, so the purges keep up with the clock.
    const { every, keep } = retentionOf(options.retention ?? "24 hours")
    if (Duration.isFinite(keep)) {
      const keepMillis = Duration.toMillis(keep)
      const everyMillis = Duration.toMillis(every)
      const once = Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        const n = yield* backend.purge({ finishedBefore: started - keepMillis }).pipe(
          Effect.catchAll((error) => Effect.as(Effect.logWarning("sitq nats retention: purge failed", error), 0))
        )
        if (n > 0) yield* Effect.logDebug(`sitq nats retention: purged ${n} finished tasks`)
        const took = (yield* Clock.currentTimeMillis) - started
        if (took < everyMillis) yield* Effect.sleep(Duration.millis(everyMillis - took))
      })
      yield* once.pipe(Effect.forever, Effect.interruptible, Effect.forkScoped)
    }
    return backend
  })

/** The bucket of a store, for tools and tests. @internal */
export const bucketOf = (prefix: string): string => `sitq_${prefix}`

/** Deletes a store's bucket. @internal */
export const destroy = (kvm: Kvm, prefix: string): Promise<boolean> =>
  kvm.open(bucketOf(prefix)).then((kv: KV) => kv.destroy())
