/** The port suite against the real Redis server, on a fresh key prefix per build (deleted after). */
import { portSuite } from "../conformance/port.js"
import { freshLayer } from "./layer.js"

portSuite("redis", freshLayer())
