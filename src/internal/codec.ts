/**
 * Schema + Serializer: typed values to bytes and back, and errors to `StoredError` and back.
 * Parsers are built once per schema (`compile`) and cached per task definition (payload and
 * success) or per serializer and schema (errors), not per call.
 *
 * @internal
 */
import { Effect, Option, ParseResult, Predicate, Schema } from "effect"
import type { StoredError } from "../Backend.js"
import { BuiltinTaskError, SerializationError } from "../Errors.js"
import type { SerializerService } from "../Serializer.js"
import type { AnySchema, Task } from "../Task.js"

const parseMessage = (what: string, error: ParseResult.ParseError): SerializationError =>
  new SerializationError({ message: `${what}: ${ParseResult.TreeFormatter.formatErrorSync(error)}`, cause: error })

/** A schema's value to bytes and back, with the parsers built once. @internal */
export interface Codec {
  readonly encode: (value: unknown) => Effect.Effect<Uint8Array, SerializationError>
  readonly decode: (bytes: Uint8Array) => Effect.Effect<unknown, SerializationError>
}

/** @internal */
export const compile = (schema: AnySchema, serializer: SerializerService, what: string): Codec => {
  const s = schema as Schema.Schema<unknown, unknown>
  const encodeValue = Schema.encodeUnknown(s)
  const decodeValue = Schema.decodeUnknown(s)
  const onParse = (e: ParseResult.ParseError | SerializationError) =>
    ParseResult.isParseError(e) ? parseMessage(what, e) : e
  return {
    encode: (value) =>
      encodeValue(value).pipe(
        Effect.mapError(onParse),
        Effect.flatMap(serializer.encode)
      ),
    decode: (bytes) =>
      serializer.decode(bytes).pipe(
        Effect.flatMap(decodeValue),
        Effect.mapError(onParse)
      )
  }
}

/** The codecs of one task definition. @internal */
export interface TaskCodecs {
  readonly payload: Codec
  readonly success: Codec
}

/** Codecs per task definition, built on first use. @internal */
export const cache = (serializer: SerializerService) => {
  const codecs = new WeakMap<Task.Any, TaskCodecs>()
  return (task: Task.Any): TaskCodecs => {
    let c = codecs.get(task)
    if (c === undefined) {
      c = {
        payload: compile(task.payload, serializer, `payload of task '${task.name}'`),
        success: compile(task.success, serializer, `result of task '${task.name}'`)
      }
      codecs.set(task, c)
    }
    return c
  }
}

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
const builtinTags = new Set(["TaskTimeout", "TaskDefect", "UnknownTask", "SerializationError"])

const errorCodecs = new WeakMap<SerializerService, WeakMap<AnySchema, Codec>>()

/**
 * The codec of an error schema for a serializer, built once and cached (per serializer, per
 * schema), so storing and loading errors does not rebuild parsers on every call.
 *
 * @internal
 */
export const errorCodec = (schema: AnySchema, serializer: SerializerService): Codec => {
  let bySchema = errorCodecs.get(serializer)
  if (bySchema === undefined) errorCodecs.set(serializer, bySchema = new WeakMap())
  let codec = bySchema.get(schema)
  if (codec === undefined) bySchema.set(schema, codec = compile(schema, serializer, "error"))
  return codec
}

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
): Effect.Effect<StoredError> =>
  errorCodec(isBuiltin(error) ? BuiltinTaskError : failure, serializer).encode(error).pipe(
    Effect.map((data): StoredError => ({ tag: tagOf(error), message: messageOf(error), data })),
    Effect.orElseSucceed((): StoredError => ({ tag: tagOf(error), message: messageOf(error), data: null }))
  )

/**
 * Decodes a stored error: a builtin error by its own schema, anything else by the task's failure
 * schema; none when it was stored without data or no longer decodes.
 *
 * @internal
 */
export const decodeError = (
  stored: StoredError,
  failure: AnySchema,
  serializer: SerializerService
): Effect.Effect<Option.Option<unknown>> =>
  stored.data === null
    ? Effect.succeedNone
    : errorCodec(builtinTags.has(stored.tag) ? BuiltinTaskError : failure, serializer)
      .decode(stored.data)
      .pipe(Effect.option)

/**
 * Decodes a stored error like {@link decodeError}; when it cannot be decoded, a plain
 * `{ _tag, message }` object stands in for it.
 *
 * @internal
 */
export const loadError = (
  stored: StoredError,
  failure: AnySchema,
  serializer: SerializerService
): Effect.Effect<unknown> =>
  Effect.map(
    decodeError(stored, failure, serializer),
    Option.getOrElse(() => ({ _tag: stored.tag, message: stored.message }))
  )
