/**
 * The `sitq` bin as a real process against Redis (`SITQ_TEST_REDIS_URL`), on a fresh key prefix
 * named with `--prefix`, whose keys are deleted afterwards.
 */
import { Effect } from "effect"
import { RedisBackend } from "../../src/backends/redis.js"
import { suite } from "../cli/suite.js"
import { deleteStore, freshPrefix, redisUrl } from "./layer.js"

suite(
  "Redis",
  Effect.gen(function*() {
    const prefix = freshPrefix()
    yield* Effect.addFinalizer(() => Effect.promise(() => deleteStore(prefix)))
    return { flags: ["--backend", redisUrl(), "--prefix", prefix], layer: RedisBackend.layer({ url: redisUrl(), prefix }) }
  })
)
