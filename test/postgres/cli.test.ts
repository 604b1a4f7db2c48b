/**
 * The `sitq` bin as a real process against PostgreSQL (`SITQ_TEST_POSTGRES_URL`), on a fresh
 * schema named with `--prefix`, dropped afterwards.
 */
import { Effect } from "effect"
import { PostgresBackend } from "../../src/backends/postgres.js"
import { suite } from "../cli/suite.js"
import { client, dropOnClose, freshSchema, url } from "./helpers.js"

suite(
  "PostgreSQL",
  Effect.gen(function*() {
    const schema = freshSchema()
    const pg = yield* client()
    yield* dropOnClose(pg, schema)
    return { flags: ["--backend", url, "--prefix", schema], layer: PostgresBackend.layer({ url, schema }) }
  })
)
