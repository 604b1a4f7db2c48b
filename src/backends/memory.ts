/**
 * `MemoryBackend`: a real, complete backend that keeps tasks in this process's memory. It honours
 * every rule of the port (atomic batch claims in claim order, leases and lease recovery, fencing,
 * durable-within-the-process retries, dedup keys, push wake-ups) and is the reference the other
 * backends are checked against. Nothing survives the process: use it for tests, for development,
 * and for work that may be lost with the process.
 *
 * @since 0.1.0
 * @module sitq/memory
 */
import { Clock, Config, Effect, Layer, Option } from "effect"
import type { ConfigError, Scope } from "effect"
import type * as Backend from "../Backend.js"
import { Backend as BackendTag, emptyStats, isFinished } from "../Backend.js"
import { Heap } from "../internal/heap.js"
import * as Events from "./kit/events.js"
import { guarded } from "./kit/guard.js"
import type { Retention } from "./kit/purge.js"
import { retain } from "./kit/purge.js"

/**
 * Options of {@link make} and {@link layerWith}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * How long finished tasks are kept before a scheduled purge deletes them (`"1 hour"`, or
   * `{ finishedOlderThan, every }`); default: kept until `purge`.
   */
  readonly retention?: Retention | undefined
}

type Mutable<A> = { -readonly [K in keyof A]: A[K] }

interface Entry {
  readonly rec: Mutable<Backend.TaskRecord>
  readonly seq: number
  /** Bumped whenever the task changes in a way that invalidates the heap items pointing at it. */
  version: number
}

interface Item {
  readonly entry: Entry
  readonly version: number
  /** The sort key the item was pushed with (runAt for ready/delayed, leaseUntil for in flight). */
  readonly at: number
}

interface QueueState {
  /**
   * Pending tasks that were due when they were pushed, in claim order, one heap per task name: a
   * claim for some names reads only their heaps.
   */
  readonly ready: Map<string, Heap<Item>>
  /** Pending tasks not yet due, by runAt. */
  readonly delayed: Heap<Item>
  /** Running tasks, by lease expiry. */
  readonly inflight: Heap<Item>
}

const claimOrder = (a: Item, b: Item): boolean => {
  const pa = a.entry.rec.priority
  const pb = b.entry.rec.priority
  if (pa !== pb) return pa > pb
  if (a.at !== b.at) return a.at < b.at
  return a.entry.seq < b.entry.seq
}
const byTime = (a: Item, b: Item): boolean => a.at < b.at || (a.at === b.at && a.entry.seq < b.entry.seq)

const isLive = (item: Item): boolean => item.entry.version === item.version

const snapshot = (entry: Entry): Backend.TaskRecord => ({ ...entry.rec })

/**
 * Builds a memory backend. Each call is a new, empty store.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Backend.Backend, never, Scope.Scope> => Effect.gen(function*() {
  const events = yield* Events.make
  const tasks = new Map<string, Entry>()
  const keys = new Map<string, string>()
  const queues = new Map<string, QueueState>()
  let sequence = 0

  const queueState = (name: string): QueueState => {
    let state = queues.get(name)
    if (state === undefined) {
      state = { ready: new Map(), delayed: new Heap(byTime), inflight: new Heap(byTime) }
      queues.set(name, state)
    }
    return state
  }

  const readyHeap = (state: QueueState, name: string): Heap<Item> => {
    let heap = state.ready.get(name)
    if (heap === undefined) {
      heap = new Heap(claimOrder)
      state.ready.set(name, heap)
    }
    return heap
  }

  /** The ready heaps of these names (all names when undefined). */
  const readyHeaps = (state: QueueState, names: ReadonlyArray<string> | undefined): Array<Heap<Item>> => {
    if (names === undefined) return Array.from(state.ready.values())
    const out: Array<Heap<Item>> = []
    for (const name of names) {
      const heap = state.ready.get(name)
      if (heap !== undefined) out.push(heap)
    }
    return out
  }

  const schedule = (entry: Entry, now: number): void => {
    entry.version++
    const state = queueState(entry.rec.queue)
    const item: Item = { entry, version: entry.version, at: entry.rec.runAt }
    if (entry.rec.runAt <= now) readyHeap(state, entry.rec.name).push(item)
    else state.delayed.push(item)
  }

  const clearLease = (rec: Mutable<Backend.TaskRecord>): void => {
    rec.leaseOwner = null
    rec.leaseUntil = null
  }

  const finish = (entry: Entry, status: "success" | "failed" | "cancelled", now: number): void => {
    const rec = entry.rec
    rec.status = status
    rec.finishedAt = now
    clearLease(rec)
    entry.version++
    if (rec.key !== null && keys.get(rec.key) === rec.id) keys.delete(rec.key)
  }

  /** Moves due delayed tasks to ready, and tasks whose lease expired back to pending. */
  const promote = (state: QueueState, now: number): void => {
    for (let top = state.delayed.peek(); top !== undefined && top.at <= now; top = state.delayed.peek()) {
      state.delayed.pop()
      if (isLive(top)) readyHeap(state, top.entry.rec.name).push(top)
    }
    for (let top = state.inflight.peek(); top !== undefined && top.at <= now; top = state.inflight.peek()) {
      state.inflight.pop()
      if (isLive(top) && top.entry.rec.status === "in_progress") {
        top.entry.rec.status = "pending"
        clearLease(top.entry.rec)
        schedule(top.entry, now)
      }
    }
  }

  const liveTop = (heap: Heap<Item>): Item | undefined => {
    for (let top = heap.peek(); top !== undefined; top = heap.peek()) {
      if (isLive(top)) return top
      heap.pop()
    }
    return undefined
  }

  const withNow = <A>(f: (now: number) => readonly [A, ReadonlyArray<Backend.BackendEvent>]) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const [result, list] = f(now)
      return Effect.as(events.publish(list), result)
    })

  const enqueue: Backend.Backend["enqueue"] = (input) =>
    withNow((now) => {
      const out: Array<Backend.Enqueued> = []
      const touched: Array<string> = []
      for (const task of input) {
        if (task.key !== null) {
          const existing = keys.get(task.key)
          if (existing !== undefined) {
            out.push({ id: existing, inserted: false })
            continue
          }
          keys.set(task.key, task.id)
        }
        const entry: Entry = {
          rec: {
            id: task.id,
            queue: task.queue,
            name: task.name,
            payload: task.payload,
            priority: task.priority,
            status: "pending",
            runAt: task.runAt,
            attempts: 0,
            leaseOwner: null,
            leaseUntil: null,
            enqueuedAt: now,
            startedAt: null,
            finishedAt: null,
            result: null,
            error: null,
            traceback: null,
            key: task.key,
            failureTimes: []
          },
          seq: sequence++,
          version: 0
        }
        tasks.set(task.id, entry)
        schedule(entry, now)
        touched.push(task.queue)
        out.push({ id: task.id, inserted: true })
      }
      return [out, Events.ready(touched)]
    })

  const claim: Backend.Backend["claim"] = (request) =>
    withNow((now) => {
      const states = request.queues.map(queueState)
      for (const state of states) promote(state, now)
      const heaps = states.flatMap((state) => readyHeaps(state, request.names).map((heap) => [state, heap] as const))
      const claimed: Array<Backend.TaskRecord> = []
      while (claimed.length < request.limit) {
        let best: Item | undefined
        let from: readonly [QueueState, Heap<Item>] | undefined
        for (const pair of heaps) {
          const top = liveTop(pair[1])
          if (top !== undefined && (best === undefined || claimOrder(top, best))) {
            best = top
            from = pair
          }
        }
        if (best === undefined || from === undefined) break
        from[1].pop()
        const entry = best.entry
        const rec = entry.rec
        rec.status = "in_progress"
        rec.attempts++
        rec.leaseOwner = request.owner
        rec.leaseUntil = now + request.leaseMillis
        rec.startedAt = now
        entry.version++
        from[0].inflight.push({ entry, version: entry.version, at: rec.leaseUntil })
        claimed.push(snapshot(entry))
      }
      return [claimed, []]
    })

  const holds = (lease: Backend.Lease): Entry | undefined => {
    const entry = tasks.get(lease.id)
    return entry !== undefined && entry.rec.status === "in_progress" && entry.rec.leaseOwner === lease.owner &&
        entry.rec.attempts === lease.attempt
      ? entry
      : undefined
  }

  const heartbeat: Backend.Backend["heartbeat"] = (leases, leaseMillis) =>
    withNow((now) => {
      const lost: Array<string> = []
      for (const lease of leases) {
        const entry = holds(lease)
        if (entry === undefined) {
          lost.push(lease.id)
          continue
        }
        entry.rec.leaseUntil = now + leaseMillis
        entry.version++
        queueState(entry.rec.queue).inflight.push({ entry, version: entry.version, at: entry.rec.leaseUntil })
      }
      return [lost, []]
    })

  const settle: Backend.Backend["settle"] = (outcomes) =>
    withNow((now) => {
      const accepted: Array<boolean> = []
      const finished: Array<string> = []
      const requeued: Array<string> = []
      for (const outcome of outcomes) {
        const entry = holds(outcome.lease)
        accepted.push(entry !== undefined)
        if (entry === undefined) continue
        const rec = entry.rec
        switch (outcome._tag) {
          case "Succeeded": {
            rec.result = outcome.result
            rec.error = null
            rec.traceback = null
            finish(entry, "success", now)
            finished.push(rec.id)
            break
          }
          case "Failed": {
            rec.error = outcome.error
            rec.traceback = outcome.traceback
            rec.failureTimes = outcome.failureTimes
            finish(entry, "failed", now)
            finished.push(rec.id)
            break
          }
          case "Retrying": {
            rec.status = "pending"
            rec.runAt = outcome.runAt
            rec.error = outcome.error
            rec.traceback = outcome.traceback
            rec.failureTimes = outcome.failureTimes
            clearLease(rec)
            schedule(entry, now)
            requeued.push(rec.queue)
            break
          }
          case "Released": {
            rec.status = "pending"
            rec.attempts--
            clearLease(rec)
            schedule(entry, now)
            requeued.push(rec.queue)
            break
          }
        }
      }
      return [accepted, Events.settled(requeued, finished)]
    })

  const cancel: Backend.Backend["cancel"] = (id) =>
    withNow((now) => {
      const entry = tasks.get(id)
      if (entry === undefined) return ["not_found", []]
      if (isFinished(entry.rec.status)) return ["finished", []]
      finish(entry, "cancelled", now)
      return ["cancelled", Events.cancelled([id])]
    })

  const retry: Backend.Backend["retry"] = (id) =>
    withNow((now) => {
      const entry = tasks.get(id)
      if (entry === undefined) return ["not_found", []]
      const rec = entry.rec
      if (rec.status !== "failed" && rec.status !== "cancelled") return ["not_finished", []]
      if (rec.key !== null && keys.has(rec.key)) return ["key_held", []]
      rec.status = "pending"
      rec.runAt = now
      rec.attempts = 0
      rec.startedAt = null
      rec.finishedAt = null
      rec.result = null
      rec.error = null
      rec.traceback = null
      rec.failureTimes = []
      if (rec.key !== null) keys.set(rec.key, rec.id)
      schedule(entry, now)
      return ["requeued", Events.ready([rec.queue])]
    })

  const matches = (rec: Backend.TaskRecord, filter: Backend.ListFilter): boolean =>
    (filter.status === undefined || rec.status === filter.status) &&
    (filter.name === undefined || rec.name === filter.name) &&
    (filter.queue === undefined || rec.queue === filter.queue)

  /** The enqueue position of a cursor's task: -1 (after) or +inf (before) when absent, a missing task selects none. */
  const cursor = (id: string | undefined, absent: number): number =>
    id === undefined ? absent : (tasks.get(id)?.seq ?? Number.NaN)

  const list: Backend.Backend["list"] = (filter) =>
    Effect.sync(() => {
      const limit = filter.limit ?? Number.POSITIVE_INFINITY
      const after = cursor(filter.after, -1)
      const before = cursor(filter.before, Number.POSITIVE_INFINITY)
      const all = Array.from(tasks.values())
      if (filter.newestFirst === true) all.reverse()
      const out: Array<Backend.TaskRecord> = []
      for (const entry of all) {
        if (out.length >= limit) break
        // NaN (a cursor whose task is gone) compares false: nothing matches.
        if (entry.seq > after && entry.seq < before && matches(entry.rec, filter)) out.push(snapshot(entry))
      }
      return out
    })

  const stats: Backend.Backend["stats"] = (queue) =>
    Effect.sync(() => {
      const counts = emptyStats()
      for (const entry of tasks.values()) {
        if (queue === undefined || entry.rec.queue === queue) counts[entry.rec.status]++
      }
      return counts
    })

  const purge: Backend.Backend["purge"] = (filter) =>
    Effect.sync(() => {
      const wanted = new Set<Backend.TaskStatus>(filter.statuses ?? ["success", "failed", "cancelled"])
      let removed = 0
      for (const [id, entry] of tasks) {
        const rec = entry.rec
        if (
          isFinished(rec.status) && wanted.has(rec.status) &&
          (filter.queue === undefined || rec.queue === filter.queue) &&
          (filter.finishedBefore === undefined || (rec.finishedAt !== null && rec.finishedAt < filter.finishedBefore))
        ) {
          tasks.delete(id)
          removed++
        }
      }
      return removed
    })

  const nextWakeAt: Backend.Backend["nextWakeAt"] = (queueNames, names) =>
    Effect.sync(() => {
      let next = Number.POSITIVE_INFINITY
      for (const queueName of queueNames) {
        const state = queues.get(queueName)
        if (state === undefined) continue
        for (const heap of [...readyHeaps(state, names), state.delayed, state.inflight]) {
          const top = liveTop(heap)
          if (top !== undefined && top.at < next) next = top.at
        }
      }
      return next === Number.POSITIVE_INFINITY ? Option.none() : Option.some(next)
    })

  const backend = guarded({
    name: "memory",
    // No other process can reach this store: every change is pushed.
    capabilities: { pushesAcrossProcesses: true },
    enqueue,
    claim,
    heartbeat,
    settle,
    cancel,
    retry,
    get: (id) => Effect.sync(() => Option.map(Option.fromNullable(tasks.get(id)), snapshot)),
    list,
    stats,
    purge,
    nextWakeAt,
    subscribe: events.subscribe
  })
  yield* retain(backend, options.retention)
  return backend
})

/**
 * A fresh, empty memory backend for the layer's lifetime.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Backend.Backend> = Layer.scoped(BackendTag, make())

/**
 * {@link layer} with options (retention).
 *
 * @example
 * ```ts
 * import { MemoryBackend } from "sitq"
 *
 * const BackendLive = MemoryBackend.layerWith({ retention: "1 hour" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (options: Options): Layer.Layer<Backend.Backend> => Layer.scoped(BackendTag, make(options))

/**
 * {@link layerWith} with its options read from `Config`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<Backend.Backend, ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layerWith))
