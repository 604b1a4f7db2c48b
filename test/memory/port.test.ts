/** The port suite against the memory backend. */
import { MemoryBackend } from "../../src/index.js"
import { portSuite } from "../conformance/port.js"
import { retentionSuite } from "../conformance/retention.js"

portSuite("memory", MemoryBackend.layer)

retentionSuite("memory", MemoryBackend.layerWith({ retention: { finishedOlderThan: "1 hour", every: "1 minute" } }))
