/** The port suite against the SQLite backend, on a fresh temporary database file per build. */
import { portSuite } from "../conformance/port.js"
import { retentionSuite } from "../conformance/retention.js"
import { freshLayer, freshLayerWith } from "./helpers.js"

portSuite("sqlite", freshLayer)

retentionSuite("sqlite", freshLayerWith({ retention: { finishedOlderThan: "1 hour", every: "1 minute" } }))
