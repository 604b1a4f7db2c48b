/**
 * The conformance suite against the SQLite backend, on a fresh temporary database file per build
 * (removed after).
 */
import { conformance } from "../conformance/suite.js"
import { freshLayer } from "./helpers.js"

conformance("sqlite", freshLayer)
