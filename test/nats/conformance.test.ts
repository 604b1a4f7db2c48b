/**
 * The conformance suite against the NATS backend: each build of the layer is a fresh store (its
 * own KV bucket on a random prefix), deleted when the layer is released.
 */
import { conformance } from "../conformance/suite.js"
import { freshLayer } from "./layer.js"

conformance("nats", freshLayer())
