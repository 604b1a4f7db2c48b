/**
 * Test helpers: a Redis backend layer on a fresh random prefix, whose keys are deleted when the
 * layer is released.
 */
import { Effect, Layer } from "effect"
import { Redis } from "ioredis"
import { randomUUID } from "node:crypto"
import type { Backend } from "../../src/Backend.js"
import { RedisBackend } from "../../src/backends/redis.js"

export const redisUrl = (): string => {
  const url = process.env["SITQ_TEST_REDIS_URL"]
  if (url === undefined || url === "") {
    throw new Error("SITQ_TEST_REDIS_URL is not set: the Redis tests need a server (e.g. redis://127.0.0.1:6379)")
  }
  return url
}

export const freshPrefix = (): string => `test-${randomUUID()}`

/** Deletes every key of a store. */
export const deleteStore = (prefix: string): Promise<void> => {
  const client = new Redis(redisUrl(), { lazyConnect: false, maxRetriesPerRequest: 1 })
  const run = async () => {
    let cursor = "0"
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", `sitq:{${prefix}}:*`, "COUNT", 1000)
      cursor = next
      if (keys.length > 0) await client.unlink(...keys)
    } while (cursor !== "0")
  }
  return run().finally(() => client.quit().then(() => undefined, () => undefined))
}

/** A fresh, isolated store for each build; its keys are deleted on release. */
export const freshLayer = (
  options: Omit<RedisBackend.Options, "url" | "options" | "prefix"> = {}
): Layer.Layer<Backend, unknown> =>
  Layer.unwrapScoped(
    Effect.gen(function*() {
      const prefix = freshPrefix()
      yield* Effect.addFinalizer(() => Effect.promise(() => deleteStore(prefix)))
      return RedisBackend.layer({ url: redisUrl(), prefix, ...options })
    })
  )
