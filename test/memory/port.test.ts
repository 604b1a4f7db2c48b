/** The port suite against the memory backend. */
import { MemoryBackend } from "../../src/index.js"
import { portSuite } from "../conformance/port.js"

portSuite("memory", MemoryBackend.layer)
