/**
 * Time-ordered task ids: UUIDv7 (RFC 9562) from Effect's `Clock`, monotonic within the process
 * (the 12-bit `rand_a` field is a counter within one millisecond, as the RFC allows).
 *
 * @internal
 */
import { Clock, Effect } from "effect"
import { randomFillSync } from "node:crypto"

const hex: Array<string> = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))
const pool = new Uint8Array(8 * 512)
let poolOffset = pool.length
let lastMillis = -1
let counter = 0

const random8 = (): Uint8Array => {
  if (poolOffset >= pool.length) {
    randomFillSync(pool)
    poolOffset = 0
  }
  const out = pool.subarray(poolOffset, poolOffset + 8)
  poolOffset += 8
  return out
}

/** @internal */
export const uuidv7FromMillis = (nowMillis: number): string => {
  let millis = nowMillis
  if (millis <= lastMillis) {
    millis = lastMillis
    counter++
    if (counter > 0xfff) {
      millis++
      counter = 0
    }
  } else {
    counter = 0
  }
  lastMillis = millis
  const r = random8()
  const b = new Uint8Array(16)
  // 48-bit big-endian milliseconds
  b[0] = Math.floor(millis / 2 ** 40) & 0xff
  b[1] = Math.floor(millis / 2 ** 32) & 0xff
  b[2] = (millis >>> 24) & 0xff
  b[3] = (millis >>> 16) & 0xff
  b[4] = (millis >>> 8) & 0xff
  b[5] = millis & 0xff
  b[6] = 0x70 | ((counter >>> 8) & 0x0f)
  b[7] = counter & 0xff
  b[8] = 0x80 | (r[0]! & 0x3f)
  b[9] = r[1]!
  b[10] = r[2]!
  b[11] = r[3]!
  b[12] = r[4]!
  b[13] = r[5]!
  b[14] = r[6]!
  b[15] = r[7]!
  return hex[b[0]!]! + hex[b[1]!] + hex[b[2]!] + hex[b[3]!] + "-" + hex[b[4]!] + hex[b[5]!] + "-" + hex[b[6]!] +
    hex[b[7]!] + "-" + hex[b[8]!] + hex[b[9]!] + "-" + hex[b[10]!] + hex[b[11]!] + hex[b[12]!] + hex[b[13]!] +
    hex[b[14]!] + hex[b[15]!]
}

/** A new time-ordered id. @internal */
export const nextId: Effect.Effect<string> = Effect.map(Clock.currentTimeMillis, uuidv7FromMillis)

/** `n` new ids from one clock reading. @internal */
export const nextIds = (n: number): Effect.Effect<Array<string>> =>
  Effect.map(Clock.currentTimeMillis, (now) => Array.from({ length: n }, () => uuidv7FromMillis(now)))
