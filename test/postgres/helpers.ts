/**
 * Shared helpers of the PostgreSQL tests: the server URL from `SITQ_TEST_POSTGRES_URL`, fresh
 * schemas that are dropped afterwards, and a backend layer on one.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { PgClient } from "@effect/sql-pg"
import { Clock, Effect, Layer, Redacted } from "effect"
import { randomUUID } from "node:crypto"
import { Backend } from "../../src/Backend.js"
import type { BackendError } from "../../src/Errors.js"
import { PostgresBackend } from "../../src/backends/postgres.js"

const fromEnv = process.env.SITQ_TEST_POSTGRES_URL
if (fromEnv === undefined || fromEnv === "") {
  throw new Error("SITQ_TEST_POSTGRES_URL is not set: the PostgreSQL tests need a server (e.g. postgres://postgres@127.0.0.1:5432/test)")
}
export const url: string = fromEnv

export const liveClock = Clock.make()

export const freshSchema = (): string => `sitq_t_${randomUUID().replace(/-/g, "").slice(0, 20)}`

/** A scoped `PgClient` of the test itself (for assertions and cleanup). */
export const client = (applicationName = "sitq-test") =>
  PgClient.make({ url: Redacted.make(url), maxConnections: 4, applicationName }).pipe(
    Effect.provideServiceEffect(Reactivity.Reactivity, Reactivity.make),
    Effect.withClock(liveClock),
    Effect.orDie
  )

/** Drops `schema` when the scope closes. */
export const dropOnClose = (pg: PgClient.PgClient, schema: string) =>
  Effect.addFinalizer(() => pg.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).raw.pipe(Effect.ignore))

/**
 * A backend on a fresh schema, dropped when the layer is released. Each build is a new, empty
 * store: what the conformance suite needs.
 */
export const freshLayer = (
  options: Omit<PostgresBackend.ClientOptions, "schema"> = {}
): Layer.Layer<Backend, BackendError> =>
  Layer.scoped(
    Backend,
    Effect.gen(function*() {
      const schema = freshSchema()
      const pg = yield* client()
      yield* dropOnClose(pg, schema)
      return yield* PostgresBackend.make({ ...options, schema }).pipe(Effect.provideService(PgClient.PgClient, pg))
    })
  )
