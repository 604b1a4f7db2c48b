/**
 * Bytes for payloads, results and errors. A task's Schema turns its typed values into their
 * encoded form and back; the Serializer turns the encoded form into bytes and back. Neither ever
 * evaluates code: there is no equivalent of pickle's code loading.
 *
 * - `Serializer.json`: JSON text as UTF-8. Readable in the database, portable across languages.
 * - `Serializer.structured`: V8's structured-clone format (`node:v8`), in which `Date`, `Map`,
 *   `Set`, `BigInt`, typed arrays and `Error` survive a round trip even through `Schema.Unknown`.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import * as v8 from "node:v8"
import { SerializationError } from "./Errors.js"

/**
 * The serializer interface.
 *
 * @since 0.1.0
 * @category models
 */
export interface SerializerService {
  readonly name: string
  readonly encode: (value: unknown) => Effect.Effect<Uint8Array, SerializationError>
  readonly decode: (bytes: Uint8Array) => Effect.Effect<unknown, SerializationError>
}

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

/**
 * The JSON serializer. `undefined` (a void payload or result) is stored as an empty byte string.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeJson = (): SerializerService => ({
  name: "json",
  encode: (value) =>
    Effect.try({
      try: () => value === undefined ? new Uint8Array(0) : encoder.encode(JSON.stringify(value)),
      catch: (cause) => new SerializationError({ message: `cannot encode value as JSON: ${String(cause)}`, cause })
    }),
  decode: (bytes) =>
    Effect.try({
      try: () => bytes.length === 0 ? undefined : JSON.parse(decoder.decode(bytes)) as unknown,
      catch: (cause) => new SerializationError({ message: `stored bytes are not valid JSON: ${String(cause)}`, cause })
    })
})

/**
 * The structured serializer (V8's structured-clone format).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeStructured = (): SerializerService => ({
  name: "structured",
  encode: (value) =>
    Effect.try({
      try: () => new Uint8Array(v8.serialize(value)),
      catch: (cause) => new SerializationError({ message: `cannot serialize value: ${String(cause)}`, cause })
    }),
  decode: (bytes) =>
    Effect.try({
      try: () => v8.deserialize(bytes) as unknown,
      catch: (cause) =>
        new SerializationError({ message: `stored bytes are not in structured-clone format: ${String(cause)}`, cause })
    })
})

/**
 * The `Serializer` service. `Serializer.json` and `Serializer.structured` are its layers.
 *
 * @since 0.1.0
 * @category tags
 */
export class Serializer extends Context.Tag("sitq/Serializer")<Serializer, SerializerService>() {
  /**
   * JSON as UTF-8 (the default).
   *
   * @since 0.1.0
   */
  static readonly json: Layer.Layer<Serializer> = Layer.sync(Serializer, makeJson)
  /**
   * V8 structured clone: Date, Map, Set, BigInt, typed arrays and Error survive a round trip.
   *
   * @since 0.1.0
   */
  static readonly structured: Layer.Layer<Serializer> = Layer.sync(Serializer, makeStructured)
}
