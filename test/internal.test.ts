import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Schedule } from "effect"
import { Heap } from "../src/internal/heap.js"
import { uuidv7FromMillis } from "../src/internal/id.js"
import { nextRunAt } from "../src/internal/retry.js"

describe("durable retry replay", () => {
  it.effect("recurs(2) allows two retries, then is done", () =>
    Effect.gen(function*() {
      const s = Schedule.recurs(2)
      assert.deepStrictEqual(yield* nextRunAt(s, [1000], "e"), Option.some(1000))
      assert.deepStrictEqual(yield* nextRunAt(s, [1000, 1000], "e"), Option.some(1000))
      assert.deepStrictEqual(yield* nextRunAt(s, [1000, 1000, 1000], "e"), Option.none())
    }))

  it.effect("exponential delays depend only on the number of failures, from the last one", () =>
    Effect.gen(function*() {
      const s = Schedule.exponential("1 second")
      assert.deepStrictEqual(yield* nextRunAt(s, [0], "e"), Option.some(1000))
      assert.deepStrictEqual(yield* nextRunAt(s, [0, 0], "e"), Option.some(2000))
      assert.deepStrictEqual(yield* nextRunAt(s, [0, 0, 50], "e"), Option.some(4050))
    }))

  it.effect("whileInput decides on the failure at hand", () =>
    Effect.gen(function*() {
      const s = Schedule.recurs(5).pipe(Schedule.whileInput((e: string) => e === "retry"))
      assert.isTrue(Option.isSome(yield* nextRunAt(s as Schedule.Schedule<unknown, unknown>, [0], "retry")))
      assert.isTrue(Option.isNone(yield* nextRunAt(s as Schedule.Schedule<unknown, unknown>, [0], "fatal")))
    }))

  it.effect("a schedule bounded by elapsed time sees each failure's own time, and ends", () =>
    Effect.gen(function*() {
      const exp = Schedule.exponential("1 second").pipe(Schedule.upTo("10 seconds"))
      assert.deepStrictEqual(yield* nextRunAt(exp, [0, 1000, 3000, 7000], "e"), Option.some(15_000))
      assert.deepStrictEqual(yield* nextRunAt(exp, [0, 1000, 3000, 7000, 15_000], "e"), Option.none())
      const spaced = Schedule.spaced("1 second").pipe(Schedule.upTo("5 seconds"))
      assert.deepStrictEqual(yield* nextRunAt(spaced, [0, 1000, 2000, 3000, 4000, 5000], "e"), Option.some(6000))
      assert.deepStrictEqual(yield* nextRunAt(spaced, [0, 1000, 2000, 3000, 4000, 5000, 6000], "e"), Option.none())
      assert.deepStrictEqual(yield* nextRunAt(spaced, [], "e"), Option.none())
    }))
})

describe("ids", () => {
  it("UUIDv7 ids are well formed and strictly increasing, even within one millisecond", () => {
    const ids = Array.from({ length: 10_000 }, () => uuidv7FromMillis(1_700_000_000_000))
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    for (let i = 1; i < ids.length; i++) assert.isTrue(ids[i - 1]! < ids[i]!, `${ids[i - 1]} < ${ids[i]}`)
    assert.isTrue(ids[0]!.startsWith("018bcfe5-6800"))
    // A clock that goes backwards does not break the order.
    assert.isTrue(uuidv7FromMillis(5) > ids[ids.length - 1]!)
  })
})

describe("heap", () => {
  it("pops in order", () => {
    const heap = new Heap<number>((a, b) => a < b)
    const input = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000)
    for (const n of input) heap.push(n)
    const out: Array<number> = []
    for (let n = heap.pop(); n !== undefined; n = heap.pop()) out.push(n)
    assert.deepStrictEqual(out, [...input].sort((a, b) => a - b))
    assert.strictEqual(heap.size, 0)
  })
})
