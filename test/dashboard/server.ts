/**
 * Serves dashboard routers on a free port for the tests, over a backend built by the test.
 */
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Layer } from "effect"
import type { Scope } from "effect"
import * as Http from "node:http"
import type { Backend as BackendService } from "../../src/Backend.js"
import { Backend } from "../../src/Backend.js"

/** Serves `app` for the scope; returns its base URL (`http://127.0.0.1:PORT`). */
export const serve = (
  app: HttpRouter.HttpRouter<never, BackendService>,
  backend: BackendService
): Effect.Effect<string, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const ctx = yield* Layer.build(
      HttpServer.serve(app).pipe(
        Layer.provide(Layer.succeed(Backend, backend)),
        Layer.provideMerge(NodeHttpServer.layer(() => Http.createServer(), { port: 0, host: "127.0.0.1" }))
      )
    )
    const address = Context.get(ctx, HttpServer.HttpServer).address
    return address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : "http://unix.invalid"
  })

/** A router mounted under `/sitq` in an application's own router, next to the app's routes. */
export const mounted = (dashboard: HttpRouter.HttpRouter<never, BackendService>) =>
  HttpRouter.empty.pipe(
    HttpRouter.get("/health", Effect.succeed(HttpServerResponse.text("ok"))),
    HttpRouter.mount("/sitq", dashboard)
  )
