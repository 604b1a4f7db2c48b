/**
 * The conformance suite against the Redis backend: each build of the layer is a fresh store on a
 * random key prefix, deleted when the layer is released.
 */
import { conformance } from "../conformance/suite.js"
import { freshLayer } from "./layer.js"

conformance("redis", freshLayer())
