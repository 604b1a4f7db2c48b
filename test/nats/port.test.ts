/**
 * The port suite and the retention check against the real NATS server, on a fresh store (its own
 * KV bucket) per build, deleted afterwards.
 */
import { portSuite } from "../conformance/port.js"
import { retentionSuite } from "../conformance/retention.js"
import { freshLayer } from "./layer.js"

portSuite("nats", freshLayer())

retentionSuite("nats", freshLayer({ retention: { finishedOlderThan: "1 hour", every: "1 minute" } }))
