/** The port suite against the real PostgreSQL server, on a fresh schema per build (dropped after). */
import { portSuite } from "../conformance/port.js"
import { retentionSuite } from "../conformance/retention.js"
import { freshLayer } from "./helpers.js"

portSuite("postgres", freshLayer())

retentionSuite("postgres", freshLayer({ retention: { finishedOlderThan: "1 hour", every: "1 minute" } }))
