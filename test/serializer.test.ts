import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { SerializationError, Serializer } from "../src/index.js"
import { makeJson, makeStructured } from "../src/Serializer.js"

describe("Serializer", () => {
  it.effect("json round-trips plain data and stores undefined as no bytes", () =>
    Effect.gen(function*() {
      const json = makeJson()
      const value = { a: 1, b: ["x", null, true], c: { d: "é ✓" } }
      assert.deepStrictEqual(yield* json.decode(yield* json.encode(value)), value)
      const empty = yield* json.encode(undefined)
      assert.strictEqual(empty.length, 0)
      assert.strictEqual(yield* json.decode(empty), undefined)
    }))

  it.effect("json refuses what it cannot hold and bytes that are not JSON, with SerializationError", () =>
    Effect.gen(function*() {
      const json = makeJson()
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      assert.instanceOf(yield* Effect.flip(json.encode(cyclic)), SerializationError)
      assert.instanceOf(yield* Effect.flip(json.encode(1n)), SerializationError)
      assert.instanceOf(yield* Effect.flip(json.decode(new Uint8Array([0xff, 0xfe]))), SerializationError)
      assert.instanceOf(yield* Effect.flip(json.decode(new TextEncoder().encode("{nope"))), SerializationError)
    }))

  it.effect("json carries a Schema.BigInt payload through its encoded form", () =>
    Effect.gen(function*() {
      const json = makeJson()
      const schema = Schema.Struct({ n: Schema.BigInt })
      const encoded = yield* Schema.encode(schema)({ n: 2n ** 100n })
      const back = yield* Schema.decodeUnknown(schema)(yield* json.decode(yield* json.encode(encoded)))
      assert.strictEqual(back.n, 2n ** 100n)
    }))

  it.effect("structured keeps Date, Map, Set, BigInt, typed arrays and Error", () =>
    Effect.gen(function*() {
      const s = makeStructured()
      const value = {
        d: new Date(5),
        m: new Map([[1, { a: 1n }]]),
        s: new Set(["x"]),
        t: new Int32Array([-1, 2]),
        e: new TypeError("bad")
      }
      const back = (yield* s.decode(yield* s.encode(value))) as typeof value
      assert.strictEqual(back.d.getTime(), 5)
      assert.deepStrictEqual(back.m.get(1), { a: 1n })
      assert.isTrue(back.s.has("x"))
      assert.deepStrictEqual(Array.from(back.t), [-1, 2])
      assert.instanceOf(back.e, TypeError)
      assert.strictEqual(back.e.message, "bad")
    }))

  it.effect("structured refuses functions and garbage bytes", () =>
    Effect.gen(function*() {
      const s = makeStructured()
      assert.instanceOf(yield* Effect.flip(s.encode({ f: () => 1 })), SerializationError)
      assert.instanceOf(yield* Effect.flip(s.decode(new Uint8Array([1, 2, 3]))), SerializationError)
    }))

  it.effect("the layers provide the service", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* Effect.provide(Serializer, Serializer.json)).name, "json")
      assert.strictEqual((yield* Effect.provide(Serializer, Serializer.structured)).name, "structured")
    }))
})
