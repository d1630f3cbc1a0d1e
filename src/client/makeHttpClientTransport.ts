/**
 * The Streamable HTTP client transport as a client of a runtime makes it: the
 * transport layer's `HttpClientTransport` (which may not import the runtime) with
 * the runtime's clock and actor factory filled in. What `HttpClientSession` gives
 * each generation; for a transport of your own, use this rather than the
 * transport layer's constructor.
 *
 * @since 0.3.0
 */
import { createLeanActor } from "../runtime/ActorScheduler.ts"
import { defaultMcpRuntime } from "../runtime/McpRuntime.ts"
import { HttpClientTransport, type HttpClientTransportOptions } from "../transports/http/client/HttpClientTransport.ts"
import type { ClientRuntimeOptions } from "./clientNode.ts"

/**
 * An `HttpClientTransport` whose timers (connect and DELETE deadlines, reconnection
 * backoff) run on `clock`, by default the runtime's (`runtime`, default the process's),
 * and whose connection chart is made as every actor of a runtime is (`createLeanActor`).
 */
export const makeHttpClientTransport = (options: HttpClientTransportOptions & ClientRuntimeOptions): HttpClientTransport =>
  new HttpClientTransport({
    ...options,
    clock: options.clock ?? (options.runtime ?? defaultMcpRuntime()).clock,
    createActor: options.createActor ?? createLeanActor
  })
