/**
 * The bytes of a task record as the NATS backend stores it under `t.<id>` in its KV bucket: a
 * version byte, the length of a JSON header (4 bytes, big-endian), the header with every scalar
 * field, then the three byte fields (payload, result, error data) back to back. The header holds
 * their lengths (-1 for null), so no byte field is ever base64-encoded. The header also keeps the
 * task's enqueue sequence (`sq`: the revision at which the record was created; absent until the
 * record is first rewritten, when it is the revision of the record itself) and the failure times.
 *
 * @internal
 */
import type { StoredError, TaskRecord, TaskStatus } from "../../Backend.js"
import { statuses } from "../../Backend.js"

const VERSION = 1

interface Header {
  readonly i: string
  readonly q: string
  readonly n: string
  readonly p: number
  readonly s: TaskStatus
  readonly r: number
  readonly a: number
  readonly lo: string | null
  readonly lu: number | null
  readonly e: number
  readonly st: number | null
  readonly f: number | null
  readonly et: string | null
  readonly em: string | null
  readonly tb: string | null
  readonly k: string | null
  readonly ft?: ReadonlyArray<number>
  readonly sq?: number
  readonly pl: number
  readonly rl: number
  readonly dl: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

const len = (bytes: Uint8Array | null): number => bytes === null ? -1 : bytes.byteLength

/** A record with its enqueue sequence. @internal */
export interface Stored {
  readonly rec: TaskRecord
  readonly seq: number
}

/** The stored bytes of a record; `seq` null when the record is being created. @internal */
export const encode = (rec: TaskRecord, seq: number | null): Uint8Array => {
  const header: Header = {
    i: rec.id,
    q: rec.queue,
    n: rec.name,
    p: rec.priority,
    s: rec.status,
    r: rec.runAt,
    a: rec.attempts,
    lo: rec.leaseOwner,
    lu: rec.leaseUntil,
    e: rec.enqueuedAt,
    st: rec.startedAt,
    f: rec.finishedAt,
    et: rec.error?.tag ?? null,
    em: rec.error?.message ?? null,
    tb: rec.traceback,
    k: rec.key,
    ...(rec.failureTimes.length > 0 ? { ft: rec.failureTimes } : {}),
    ...(seq === null ? {} : { sq: seq }),
    pl: rec.payload.byteLength,
    rl: len(rec.result),
    dl: len(rec.error?.data ?? null)
  }
  const head = encoder.encode(JSON.stringify(header))
  const data = rec.error?.data ?? null
  const total = 5 + head.byteLength + rec.payload.byteLength + Math.max(0, header.rl) + Math.max(0, header.dl)
  const out = new Uint8Array(total)
  out[0] = VERSION
  new DataView(out.buffer).setUint32(1, head.byteLength)
  out.set(head, 5)
  let at = 5 + head.byteLength
  out.set(rec.payload, at)
  at += rec.payload.byteLength
  if (rec.result !== null) {
    out.set(rec.result, at)
    at += rec.result.byteLength
  }
  if (data !== null) out.set(data, at)
  return out
}

const isStatus = (s: unknown): s is TaskStatus => typeof s === "string" && (statuses as ReadonlyArray<string>).includes(s)

const times = (ft: unknown): ReadonlyArray<number> =>
  Array.isArray(ft) ? ft.filter((t): t is number => typeof t === "number" && Number.isFinite(t)) : []

/**
 * Reads stored bytes back (`rev`: the revision they were read at); `undefined` when they are not
 * a record of this layout.
 *
 * @internal
 */
export const decode = (bytes: Uint8Array, rev: number): Stored | undefined => {
  if (bytes.byteLength < 5 || bytes[0] !== VERSION) return undefined
  const headLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1)
  if (5 + headLength > bytes.byteLength) return undefined
  let header: Header
  try {
    header = JSON.parse(decoder.decode(bytes.subarray(5, 5 + headLength))) as Header
  } catch {
    return undefined
  }
  if (typeof header !== "object" || header === null || !isStatus(header.s)) return undefined
  let at = 5 + headLength
  const take = (n: number): Uint8Array | null => {
    if (n < 0) return null
    const part = bytes.slice(at, at + n)
    at += n
    return part
  }
  const payload = take(header.pl) ?? new Uint8Array(0)
  const result = take(header.rl)
  const data = take(header.dl)
  const error: StoredError | null = header.et === null ? null : { tag: header.et, message: header.em ?? "", data }
  const rec: TaskRecord = {
    id: header.i,
    queue: header.q,
    name: header.n,
    payload,
    priority: header.p,
    status: header.s,
    runAt: header.r,
    attempts: header.a,
    leaseOwner: header.lo,
    leaseUntil: header.lu,
    enqueuedAt: header.e,
    startedAt: header.st,
    finishedAt: header.f,
    result,
    error,
    traceback: header.tb,
    key: header.k,
    failureTimes: times(header.ft)
  }
  return { rec, seq: typeof header.sq === "number" ? header.sq : rev }
}
