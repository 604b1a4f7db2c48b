/** The port suite against the SQLite backend, on a fresh temporary database file per build. */
import { portSuite } from "../conformance/port.js"
import { freshLayer } from "./helpers.js"

portSuite("sqlite", freshLayer)
