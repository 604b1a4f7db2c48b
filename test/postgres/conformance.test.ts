/**
 * The conformance suite against the real PostgreSQL server: each test builds the layer once, on a
 * fresh schema that is dropped when the test ends.
 */
import { conformance } from "../conformance/suite.js"
import { freshLayer } from "./helpers.js"

conformance("postgres", freshLayer())
