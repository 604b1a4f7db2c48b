/**
 * Test helpers: a NATS backend layer on a fresh random prefix (its own KV bucket), whose bucket is
 * deleted when the layer is released.
 */
import { Kvm } from "@nats-io/kv"
import { connect } from "@nats-io/transport-node"
import { Effect, Layer } from "effect"
import { randomUUID } from "node:crypto"
import type { Backend } from "../../src/Backend.js"
import type { NatsBackendOptions } from "../../src/backends/nats.js"
import { NatsBackend } from "../../src/backends/nats.js"
import { bucketOf } from "../../src/backends/nats/NatsBackend.js"

export const natsUrl = (): string => {
  const url = process.env["SITQ_TEST_NATS_URL"]
  if (url === undefined || url === "") {
    throw new Error("SITQ_TEST_NATS_URL is not set: the NATS tests need a server (e.g. nats://127.0.0.1:4222)")
  }
  return url
}

export const freshPrefix = (): string => `test-${randomUUID()}`

/** Deletes a store's bucket (nothing when it does not exist). */
export const deleteStore = async (prefix: string, servers: string = natsUrl()): Promise<void> => {
  const nc = await connect({ servers, timeout: 5_000 })
  try {
    const kvm = new Kvm(nc)
    await kvm.open(bucketOf(prefix)).then((kv) => kv.destroy()).catch(() => false)
  } finally {
    await nc.close()
  }
}

/** A fresh, isolated store for each build; its bucket is deleted on release. */
export const freshLayer = (
  options: Omit<NatsBackendOptions, "servers" | "prefix"> = {}
): Layer.Layer<Backend, unknown> =>
  Layer.unwrapScoped(
    Effect.gen(function*() {
      const prefix = freshPrefix()
      yield* Effect.addFinalizer(() => Effect.promise(() => deleteStore(prefix)))
      return NatsBackend.layer({ servers: natsUrl(), prefix, ...options })
    })
  )
