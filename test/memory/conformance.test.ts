import { MemoryBackend } from "../../src/index.js"
import { conformance } from "../conformance/suite.js"

conformance("memory", MemoryBackend.layer)
