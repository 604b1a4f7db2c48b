/** The port suite against the real PostgreSQL server, on a fresh schema per build (dropped after). */
import { portSuite } from "../conformance/port.js"
import { freshLayer } from "./helpers.js"

portSuite("postgres", freshLayer())
