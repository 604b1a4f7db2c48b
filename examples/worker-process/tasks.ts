/**
 * The task definitions shared by the producer and the worker process: names and schemas only, no
 * handler code (the worker's handlers live in worker.ts).
 */
import { Schema } from "effect"
import { Task } from "sitq"

export const Resize = Task.make("resize", {
  payload: Schema.Struct({ image: Schema.String, width: Schema.Number }),
  success: Schema.String
})
