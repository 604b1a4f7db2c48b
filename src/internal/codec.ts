/**
 * Schema + Serializer: typed values to bytes and back, and errors to `StoredError` and back.
 *
 * @internal
 */
import { Effect, ParseResult, Predicate, Schema } from "effect"
import type { StoredError } from "../Backend.js"
import { BuiltinTaskError, SerializationError } from "../Errors.js"
import type { SerializerService } from "../Serializer.js"
import type { AnySchema } from "../Task.js"

const parseMessage = (what: string, error: ParseResult.ParseError): SerializationError =>
  new SerializationError({ message: `${what}: ${ParseResult.TreeFormatter.formatErrorSync(error)}`, cause: error })

/** Encodes a typed value with its schema, then serializes it. @internal */
export const encode = (
  schema: AnySchema,
  serializer: SerializerService,
  value: unknown,
  what: string
): Effect.Effect<Uint8Array, SerializationError> =>
  Schema.encodeUnknown(schema as Schema.Schema<unknown, unknown>)(value).pipe(
    Effect.mapError((e) => parseMessage(what, e)),
    Effect.flatMap(serializer.encode)
  )

/** Deserializes bytes, then decodes them with the schema. @internal */
export const decode = (
  schema: AnySchema,
  serializer: SerializerService,
  bytes: Uint8Array,
  what: string
): Effect.Effect<unknown, SerializationError> =>
  serializer.decode(bytes).pipe(
    Effect.flatMap((u) => Schema.decodeUnknown(schema as Schema.Schema<unknown, unknown>)(u)),
    Effect.mapError((e) => ParseResult.isParseError(e) ? parseMessage(what, e) : e)
  )

const tagOf = (error: unknown): string =>
  Predicate.hasProperty(error, "_tag") && typeof error._tag === "string"
    ? error._tag
    : error instanceof Error
    ? error.name
    : "Error"

const messageOf = (error: unknown): string =>
  Predicate.hasProperty(error, "message") && typeof error.message === "string" && error.message.length > 0
    ? error.message
    : tagOf(error)

const isBuiltin = Schema.is(BuiltinTaskError)

/**
 * Turns the error that ended an attempt into what the backend stores. Builtin errors are encoded
 * with their own schema, the task's typed failures with the task's failure schema; when that
 * fails the error is stored by tag and message only.
 *
 * @internal
 */
export const storeError = (
  error: unknown,
  failure: AnySchema,
  serializer: SerializerService
): Effect.Effect<StoredError> => {
  const encoded = isBuiltin(error)
    ? encode(BuiltinTaskError, serializer, error, "error")
    : encode(failure, serializer, error, "error")
  return encoded.pipe(
    Effect.map((data): StoredError => ({ tag: tagOf(error), message: messageOf(error), data })),
    Effect.orElseSucceed((): StoredError => ({ tag: tagOf(error), message: messageOf(error), data: null }))
  )
}

/**
 * Decodes a stored error: a builtin error by its own schema, anything else by the task's failure
 * schema. When it cannot be decoded, a plain `{ _tag, message }` object stands in for it.
 *
 * @internal
 */
export const loadError = (
  stored: StoredError,
  failure: AnySchema,
  serializer: SerializerService
): Effect.Effect<unknown> => {
  const fallback = { _tag: stored.tag, message: stored.message }
  if (stored.data === null) return Effect.succeed(fallback)
  const builtin = ["TaskTimeout", "TaskDefect", "UnknownTask", "SerializationError"].includes(stored.tag)
  const decoded: Effect.Effect<unknown, SerializationError> = builtin
    ? decode(BuiltinTaskError, serializer, stored.data, "error")
    : decode(failure, serializer, stored.data, "error")
  return decoded.pipe(Effect.orElseSucceed(() => fallback))
}
