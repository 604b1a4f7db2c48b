/**
 * The one flag that names a store: `sqlite:./tasks.db`, `postgres://…`, `redis://…`, `nats://…`.
 * Each backend module is loaded by dynamic import when its scheme is used, so a SQLite user never
 * loads the PostgreSQL, Redis or NATS drivers.
 *
 * @since 0.1.0
 */
import type { Duration } from "effect"
import { Data, Effect, Layer, Redacted } from "effect"
import * as Fs from "node:fs"
import type { Backend } from "../Backend.js"
import type { BackendError } from "../Errors.js"

/**
 * A parsed backend flag.
 *
 * @since 0.1.0
 * @category models
 */
export type BackendUrl =
  | { readonly _tag: "sqlite"; readonly filename: string }
  | { readonly _tag: "postgres"; readonly url: Redacted.Redacted<string> }
  | { readonly _tag: "redis"; readonly url: Redacted.Redacted<string> }
  | { readonly _tag: "nats"; readonly url: Redacted.Redacted<string> }

/**
 * A mistake in how the CLI was called (a bad flag value): reported in one line, exit code 2.
 *
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/**
 * A store that cannot be opened or used (missing file, unreachable server, backend not in this
 * build): reported in one line, exit code 1.
 *
 * @since 0.1.0
 * @category errors
 */
export class StoreError extends Data.TaggedError("StoreError")<{ readonly message: string }> {}

const schemes = "sqlite:<file>, postgres://…, redis://…, nats://…"

/**
 * Parses a backend flag.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (input: string): Effect.Effect<BackendUrl, UsageError> => {
  const s = input.trim()
  if (s.startsWith("sqlite:")) {
    const rest = s.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "")
    return rest.length === 0
      ? Effect.fail(new UsageError({ message: `--backend sqlite: needs a file, e.g. sqlite:./tasks.db` }))
      : Effect.succeed({ _tag: "sqlite", filename: rest })
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s)?.[1]?.toLowerCase()
  switch (scheme) {
    case "postgres":
    case "postgresql":
      return Effect.succeed({ _tag: "postgres", url: Redacted.make(s) })
    case "redis":
    case "rediss":
      return Effect.succeed({ _tag: "redis", url: Redacted.make(s) })
    case "nats":
      return Effect.succeed({ _tag: "nats", url: Redacted.make(s) })
    default:
      return Effect.fail(
        new UsageError({
          message: s.length === 0
            ? `--backend is required (${schemes}), or set SITQ_BACKEND`
            : `--backend '${s.replace(/\/\/[^@/]*@/, "//***@")}' is not a backend URL (${schemes})`
        })
      )
  }
}

/** Options the CLI passes to every backend. */
export interface OpenOptions {
  /** SQLite table prefix, PostgreSQL schema, Redis / NATS key prefix. */
  readonly prefix?: string | undefined
  /** How long connecting to a server may take. */
  readonly connectTimeout: Duration.DurationInput
}

const load = <A>(what: string, importer: () => Promise<A>): Effect.Effect<A, StoreError> =>
  Effect.tryPromise({
    try: importer,
    catch: (cause) =>
      new StoreError({
        message: `the ${what} backend is not available in this build (${
          cause instanceof Error ? cause.message.split("\n")[0] : String(cause)
        })`
      })
  })

/** The NATS backend is loaded by a specifier the compiler does not resolve: builds may lack it. */
const natsModule = "../backends/nats.js"

type LayerFn = (options: Record<string, unknown>) => Layer.Layer<Backend, BackendError>

const natsLayer = (mod: unknown): LayerFn | undefined => {
  if (typeof mod !== "object" || mod === null) return undefined
  const direct: unknown = "layer" in mod ? mod.layer : undefined
  const nested: unknown = "NatsBackend" in mod && typeof mod.NatsBackend === "object" && mod.NatsBackend !== null &&
      "layer" in mod.NatsBackend
    ? mod.NatsBackend.layer
    : undefined
  const fn = typeof direct === "function" ? direct : nested
  return typeof fn === "function" ? (fn as LayerFn) : undefined
}

/**
 * The backend layer of a parsed flag, its module imported on demand. A SQLite file that does not
 * exist is an error (the CLI inspects stores, it does not create them).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (url: BackendUrl, options: OpenOptions): Layer.Layer<Backend, BackendError | StoreError> => {
  switch (url._tag) {
    case "sqlite":
      return Layer.unwrapEffect(Effect.gen(function*() {
        if (url.filename !== ":memory:" && !Fs.existsSync(url.filename)) {
          return yield* new StoreError({ message: `sqlite: no such file: ${url.filename}` })
        }
        const mod = yield* load("sqlite", () => import("../backends/sqlite.js"))
        return mod.SqliteBackend.layer({ filename: url.filename, prefix: options.prefix })
      }))
    case "postgres":
      return Layer.unwrapEffect(
        Effect.map(load("postgres", () => import("../backends/postgres.js")), (mod) =>
          mod.PostgresBackend.layer({
            url: url.url,
            schema: options.prefix,
            connectTimeout: options.connectTimeout,
            maxConnections: 2,
            applicationName: "sitq-cli"
          }))
      )
    case "redis":
      return Layer.unwrapEffect(
        Effect.map(load("redis", () => import("../backends/redis.js")), (mod) =>
          mod.RedisBackend.layer({
            url: url.url,
            prefix: options.prefix,
            connectTimeout: options.connectTimeout,
            connectionName: "sitq-cli"
          }))
      )
    case "nats":
      return Layer.unwrapEffect(Effect.gen(function*() {
        const mod = yield* load("nats", () => import(/* @vite-ignore */ natsModule) as Promise<unknown>)
        const make = natsLayer(mod)
        if (make === undefined) {
          return yield* new StoreError({ message: "the nats backend is not available in this build (no layer)" })
        }
        return make({
          servers: url.url,
          prefix: options.prefix,
          connectTimeout: options.connectTimeout,
          connectionName: "sitq-cli"
        })
      }))
  }
}
