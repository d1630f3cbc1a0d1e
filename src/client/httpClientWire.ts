/**
 * Streamable HTTP as a `ClientWire` (clientConnection.ts): how `openClient` reaches the
 * MCP endpoint at a URL in each era. Legacy: an `HttpClientSession` (its own
 * re-initialization). Probed or modern: `server/discover` POSTed with the modern headers
 * (`discoverOverHttp`), then a `ModernClient` over a `ModernHttpWire` or an
 * `HttpClientSession`: each era brings its own exchanges and nothing is shared but the URL;
 * an HTTP error status is suspect, and a 4xx proves the request was refused unrun.
 *
 * @since 0.3.0
 */
import { request as makeRequest } from "../protocol/jsonrpc.ts"
import { HttpError } from "../transports/http/client/errors.ts"
import { makeAgent } from "../transports/http/client/httpRequest.ts"
import { exchangeModern, httpStatusOf, ModernHttpWire } from "../transports/http/client/ModernHttpWire.ts"
import type { EraBackend, Side } from "./Client.ts"
import type { ClientEraOptions, ClientWire } from "./clientConnection.ts"
import type { ClientRuntimeOptions } from "./clientNode.ts"
import { modernClientOptions } from "./DualEraClient.ts"
import { httpServerKey } from "./EraCache.ts"
import type { EraVerdict, SendDiscover } from "./EraProber.ts"
import { HttpClientSession, type HttpClientSessionOptions } from "./HttpClientSession.ts"
import { ModernClient } from "./ModernClient.ts"
import type { AnyActorRef } from "xstate"

/** The options of a client over Streamable HTTP: the session's, the runtime's and the era's. */
export interface HttpConnectOptions extends HttpClientSessionOptions, ClientRuntimeOptions, ClientEraOptions {
  /** The actor whose children the client's charts are (probe, modern client, legacy session); the caller then owns the client. */
  readonly actorParent?: AnyActorRef
}

const parentOf = (options: HttpConnectOptions) => options.actorParent === undefined ? undefined : { actor: options.actorParent }

type ModernSide = { readonly era: "modern"; readonly client: ModernClient }

/**
 * `server/discover` over Streamable HTTP, for `EraProber`: one POST with the
 * modern headers, answered with the DiscoverResult, the JSON-RPC error (from
 * the body, whatever the status) and the HTTP status. Rejects only when the
 * server could not be reached (the `HttpNetworkError`).
 */
export const discoverOverHttp = (
  url: string | URL,
  options: Pick<HttpConnectOptions, "headers" | "connectTimeoutMs" | "maxMessageBytes"> = {}
): SendDiscover => {
  const u = new URL(url)
  let seq = 0
  return async (params, signal) => {
    // A pool of its own, destroyed once the answer is read: a probe leaves no socket behind.
    const agent = makeAgent(u)
    try {
      const h = options.headers
      const reply = await exchangeModern(u, makeRequest(`probe-${++seq}`, "server/discover", params), {
        headers: (typeof h === "function" ? await h() : h) ?? {},
        signal,
        agent,
        ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
        ...(options.maxMessageBytes !== undefined ? { maxMessageBytes: options.maxMessageBytes } : {})
      })
      switch (reply._tag) {
        case "Response": {
          const r = reply.response
          return "result" in r
            ? { _tag: "Result", result: r.result }
            : { _tag: "Error", httpStatus: reply.status, code: r.error.code, message: r.error.message, data: r.error.data }
        }
        case "Rejected":
          return reply.rpcError !== undefined
            ? { _tag: "Error", httpStatus: reply.status, code: reply.rpcError.code, message: reply.rpcError.message, data: reply.rpcError.data }
            : { _tag: "Error", httpStatus: reply.status, message: reply.body.slice(0, 200) }
        case "NoResponse":
          return { _tag: "Error", httpStatus: reply.status, message: reply.reason }
      }
    } finally {
      agent.destroy()
    }
  }
}

/** The Streamable HTTP family of `Client`: each era brings its own exchanges; nothing is shared but the URL. */
const httpBackend = (url: URL, options: HttpConnectOptions): EraBackend => ({
  url,
  openLegacy: async () => ({ era: "legacy", client: await HttpClientSession.connect(url, options, parentOf(options)) }),
  // The modern client finishes what it has in flight, then releases its sockets.
  releaseModern: (old) => void old.close({ reason: "server is legacy" }),
  release: () => Promise.resolve(),
  // Over HTTP an error status is suspect too; a 4xx means the request was refused unrun.
  isSuspect: (e) => e instanceof HttpError,
  notExecuted: (e) => {
    const status = httpStatusOf(e)
    return status !== undefined && status >= 400 && status < 500
  }
})

const modernSide = (url: URL, options: HttpConnectOptions, verdict: EraVerdict): ModernSide => {
  const wire = new ModernHttpWire({
    url,
    ...(options.headers !== undefined ? { headers: options.headers } : {}),
    ...(options.maxMessageBytes !== undefined ? { maxMessageBytes: options.maxMessageBytes } : {}),
    ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {})
  })
  const client = ModernClient.create(wire, {
    ...modernClientOptions(options, verdict),
    ...(options.actorParent !== undefined ? { actorParent: options.actorParent } : {})
  })
  return { era: "modern", client }
}

/** The era's client for a verdict, or the error that says the verdict did not hold. */
const openSide = async (url: URL, options: HttpConnectOptions, verdict: EraVerdict): Promise<Side> => {
  if (verdict.era === "legacy") return { era: "legacy", client: await HttpClientSession.connect(url, options, parentOf(options)) }
  const side = modernSide(url, options, verdict)
  if (verdict.retry) {
    // 2026-07-28/basic/versioning.mdx:L69 — retry with the mutually supported version the chart picked.
    try {
      await side.client.discover()
    } catch (e) {
      await side.client.close({ drainMs: 0 })
      throw e
    }
  }
  return side
}

/** The MCP endpoint at `url` as a `ClientWire`. */
export const httpClientWire = (url: string | URL): ClientWire<HttpConnectOptions> => {
  const u = new URL(url)
  return {
    kind: "http",
    close: () => Promise.resolve(),
    legacy: (options, node) => {
      const { session, ready } = HttpClientSession.open(u, options, node ?? parentOf(options))
      return {
        session,
        ready,
        url: session.url,
        // Closing the client closed the session (DELETE, sockets); a node's scope closes it without a drain.
        release: () => Promise.resolve(),
        releaseScope: () => session.close({ drainMs: 0 }),
        failed: () => Promise.resolve()
      }
    },
    dualEra: (options) => ({
      sendDiscover: discoverOverHttp(u, options),
      key: options.key ?? httpServerKey(u),
      backend: httpBackend(u, options),
      openSide: (verdict) => openSide(u, options, verdict),
      canRetry: () => true,
      // Closing the client releases its exchanges (a legacy session DELETEs; a modern client's pool goes).
      release: () => Promise.resolve()
    })
  }
}
