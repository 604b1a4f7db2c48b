/**
 * The NATS backend's due-ness index: every unfinished task of the store (pending or in progress)
 * with the KV revision it was read at, in heaps per queue: ready, one per task name (claim order:
 * priority desc, runAt asc, enqueue sequence asc; a claim for some names reads only their heaps),
 * delayed (by runAt) and in flight (by lease expiry). It is fed by this
 * process's own writes (at once) and by a watch of the bucket (everyone's writes, in revision
 * order); a record is applied only when its revision is newer than the one held, so the two
 * feeds can arrive in any order. The KV record stays the source of truth: a claim picks
 * candidates here and then compare-and-sets each record at the revision held, so a stale index
 * costs a refused write, never a double claim.
 *
 * Finished tasks leave the index; a tombstone (id → revision of the finishing write) is kept only
 * until the watch has passed that revision, so a late echo of an older write cannot bring a
 * finished task back.
 *
 * @internal
 */
import type { TaskRecord } from "../../Backend.js"
import { isFinished } from "../../Backend.js"
import { Heap } from "../../internal/heap.js"
import { claimOrder } from "../kit/order.js"

/** @internal */
export interface Entry {
  rec: TaskRecord
  rev: number
  /** The enqueue sequence: ties of priority and runAt go to the lower. */
  readonly seq: number
  /** Bumped whenever the entry moves, invalidating the heap items that point at it. */
  version: number
}

interface Item {
  readonly entry: Entry
  readonly version: number
  readonly at: number
}

interface QueueIndex {
  /** Due entries, one heap per task name. */
  readonly ready: Map<string, Heap<Item>>
  readonly delayed: Heap<Item>
  readonly inflight: Heap<Item>
}

interface Tombstone {
  readonly id: string
  readonly rev: number
}

/** What applying a record changed. @internal */
export type Change = "stale" | "pending" | "running" | "finished" | "gone"

const order = claimOrder<Item>((item) => [item.entry.rec.priority, item.at, item.entry.seq])
const claimFirst = (a: Item, b: Item): boolean => order(a, b) < 0
const byTime = (a: Item, b: Item): boolean => a.at < b.at || (a.at === b.at && a.entry.seq < b.entry.seq)

const isLive = (item: Item): boolean => item.entry.version === item.version

/** Whether a claim at `now` may take this record. @internal */
export const claimable = (rec: TaskRecord, now: number): boolean =>
  rec.status === "pending"
    ? rec.runAt <= now
    : rec.status === "in_progress" && rec.leaseUntil !== null && rec.leaseUntil <= now

/** @internal */
export class Mirror {
  private readonly entries = new Map<string, Entry>()
  private readonly queues = new Map<string, QueueIndex>()
  private readonly tombstones = new Map<string, number>()
  private readonly tombstoneOrder = new Heap<Tombstone>((a, b) => a.rev < b.rev)
  /** The highest revision the watch has delivered. */
  private watched = 0

  get size(): number {
    return this.entries.size
  }

  get(id: string): Entry | undefined {
    return this.entries.get(id)
  }

  private index(name: string): QueueIndex {
    let q = this.queues.get(name)
    if (q === undefined) {
      q = { ready: new Map(), delayed: new Heap(byTime), inflight: new Heap(byTime) }
      this.queues.set(name, q)
    }
    return q
  }

  private readyHeap(q: QueueIndex, name: string): Heap<Item> {
    let heap = q.ready.get(name)
    if (heap === undefined) {
      heap = new Heap(claimFirst)
      q.ready.set(name, heap)
    }
    return heap
  }

  /** The ready heaps of these task names (every name when undefined). */
  private readyHeaps(q: QueueIndex, names: ReadonlyArray<string> | undefined): Array<Heap<Item>> {
    if (names === undefined) return Array.from(q.ready.values())
    const out: Array<Heap<Item>> = []
    for (const name of names) {
      const heap = q.ready.get(name)
      if (heap !== undefined) out.push(heap)
    }
    return out
  }

  private place(entry: Entry): void {
    entry.version++
    const rec = entry.rec
    const q = this.index(rec.queue)
    if (rec.status === "in_progress") {
      q.inflight.push({ entry, version: entry.version, at: rec.leaseUntil ?? 0 })
    } else {
      q.delayed.push({ entry, version: entry.version, at: rec.runAt })
    }
  }

  /** Whether a revision of this task is older than what the index knows (an echo of a write applied already). */
  isStale(id: string, rev: number): boolean {
    const cur = this.entries.get(id)
    if (cur !== undefined) return cur.rev >= rev
    const dead = this.tombstones.get(id)
    return dead !== undefined && dead >= rev
  }

  /**
   * Applies a record read at `rev` (null: the key is gone). Returns `"stale"` when a newer
   * revision of it is already known.
   */
  apply(id: string, rec: TaskRecord | null, rev: number, seq: number = rev): Change {
    const cur = this.entries.get(id)
    if (cur !== undefined && cur.rev >= rev) return "stale"
    const dead = this.tombstones.get(id)
    if (dead !== undefined && dead >= rev) return "stale"
    if (rec === null || isFinished(rec.status)) {
      if (cur !== undefined) {
        this.entries.delete(id)
        cur.version++
      }
      if (rev > this.watched) {
        this.tombstones.set(id, rev)
        this.tombstoneOrder.push({ id, rev })
      }
      return rec === null ? "gone" : "finished"
    }
    if (dead !== undefined) this.tombstones.delete(id)
    if (cur !== undefined) {
      cur.rec = rec
      cur.rev = rev
      this.place(cur)
    } else {
      const entry: Entry = { rec, rev, seq, version: 0 }
      this.entries.set(id, entry)
      this.place(entry)
    }
    return rec.status === "pending" ? "pending" : "running"
  }

  /** Drops a task whose record at `rev` was deleted again (no watch message tells of a delete). */
  forget(id: string, rev: number): void {
    const cur = this.entries.get(id)
    if (cur !== undefined && cur.rev <= rev) {
      this.entries.delete(id)
      cur.version++
    }
    if (rev > this.watched) {
      this.tombstones.set(id, rev)
      this.tombstoneOrder.push({ id, rev })
    }
  }

  /** The watch delivered everything up to `seq`: older echoes can no longer arrive. */
  watchedUpTo(seq: number): void {
    if (seq > this.watched) this.watched = seq
    for (let top = this.tombstoneOrder.peek(); top !== undefined && top.rev <= seq; top = this.tombstoneOrder.peek()) {
      this.tombstoneOrder.pop()
      if (this.tombstones.get(top.id) === top.rev) this.tombstones.delete(top.id)
    }
  }

  private promote(q: QueueIndex, now: number): void {
    for (let top = q.delayed.peek(); top !== undefined && top.at <= now; top = q.delayed.peek()) {
      q.delayed.pop()
      if (isLive(top)) this.readyHeap(q, top.entry.rec.name).push(top)
    }
    for (let top = q.inflight.peek(); top !== undefined && top.at <= now; top = q.inflight.peek()) {
      q.inflight.pop()
      if (isLive(top)) {
        this.readyHeap(q, top.entry.rec.name).push({ entry: top.entry, version: top.version, at: top.entry.rec.runAt })
      }
    }
  }

  private liveTop(heap: Heap<Item>): Item | undefined {
    for (let top = heap.peek(); top !== undefined; top = heap.peek()) {
      if (isLive(top)) return top
      heap.pop()
    }
    return undefined
  }

  /**
   * Takes up to `limit` claimable entries of `queues` (of the task `names` only, unless undefined)
   * at `now`, in claim order, out of the heaps
   * (a concurrent claim of this process will not pick them). Each must then be written, or
   * given back with {@link restore}. With `spread` above 1 (other processes are claiming the same
   * tasks), each candidate is passed over with probability 1 - 1/spread, so that claimers of one
   * priority take different tasks instead of racing for the same ones; priorities still come
   * first, and with `spread` 1 the order is exact.
   */
  take(
    queues: ReadonlyArray<string>,
    names: ReadonlyArray<string> | undefined,
    now: number,
    limit: number,
    spread = 1
  ): Array<Entry> {
    const indexes = queues.map((name) => this.index(name))
    for (const q of indexes) this.promote(q, now)
    const heaps = indexes.flatMap((q) => this.readyHeaps(q, names))
    const out: Array<Entry> = []
    const passed: Array<readonly [Heap<Item>, Item]> = []
    while (out.length < limit) {
      let best: Item | undefined
      let from: Heap<Item> | undefined
      for (const heap of heaps) {
        const top = this.liveTop(heap)
        if (top !== undefined && (best === undefined || claimFirst(top, best))) {
          best = top
          from = heap
        }
      }
      if (best === undefined || from === undefined) break
      from.pop()
      if (spread > 1 && Math.random() * spread >= 1 && passed.length < limit * 32) {
        passed.push([from, best])
        continue
      }
      const entry = best.entry
      entry.version++
      if (claimable(entry.rec, now)) out.push(entry)
      else this.place(entry)
    }
    for (const [heap, item] of passed) heap.push(item)
    return out
  }

  /** Puts an entry taken by {@link take} back, unchanged. */
  restore(entry: Entry): void {
    if (this.entries.get(entry.rec.id) === entry) this.place(entry)
  }

  /**
   * The earliest runAt of a pending task or lease expiry of a running one, in `queues`; with
   * `names`, due tasks of other names do not count (not-yet-due and running ones of every name
   * do, until a claim moves them: an early hint at most, never a late one).
   */
  nextWakeAt(queues: ReadonlyArray<string>, now: number, names?: ReadonlyArray<string>): number | undefined {
    let next = Number.POSITIVE_INFINITY
    for (const name of queues) {
      const q = this.queues.get(name)
      if (q === undefined) continue
      // due entries into their name's ready heap first, so that due tasks of other names do not count
      if (names !== undefined) this.promote(q, now)
      for (const heap of [...this.readyHeaps(q, names), q.delayed, q.inflight]) {
        const top = this.liveTop(heap)
        if (top !== undefined && top.at < next) next = top.at
      }
    }
    return next === Number.POSITIVE_INFINITY ? undefined : next
  }
}
