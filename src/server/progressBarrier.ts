/**
 * Interop workaround for the official TypeScript SDK client's stdio and
 * WebSocket transports: "`_onprogress` raises a protocol error for a race
 * servers cannot avoid (progress notification arriving with the response)",
 * https://github.com/modelcontextprotocol/typescript-sdk/issues/2580 (open,
 * labelled v1 and v2; proposed fix: PR #2586, not released; seen here with
 * 1.32.2). Its read
 * loop hands every message of one read to the protocol synchronously, the
 * protocol runs notification handlers in a microtask but drops a request's
 * progress handler synchronously when the response is read. A progress
 * notification read in the same chunk as its response is therefore lost.
 *
 * Writing the response later does not guarantee separate reads: a busy client
 * reads whatever the pipe holds in one go (this is why a 10 ms hold-back
 * failed under load). What does guarantee it is a round trip: after the last
 * progress notification the server sends `ping` (allowed at any time after
 * the handshake) and writes the response only once the pong is back. The SDK
 * answers a request after the microtasks queued before it, so its progress
 * handler has run by then, however late the client reads.
 *
 * Who gets it: the SDK's `Client` sends the application's clientInfo
 * (`new Client({ name, version })`; nothing in `initialize` names the SDK or
 * its version), so the affected versions cannot be recognised by clientInfo.
 * The default therefore applies the barrier on stdio
 * and WebSocket (its HTTP transport awaits each SSE event, which drains the
 * microtasks in between, so it is unaffected) to every client except those
 * known to read in order (ours, clientInfo name "mcp-actors"), and only to
 * requests that reported progress. Cost: one ping round trip on those requests.
 * The pong deadline runs on the session's clock (the runtime clock), not on
 * real time. A server that knows its clients passes its own policy (e.g.
 * `() => false`) as `progressBarrier`. Remove it once #2580 is fixed in every
 * SDK release still in use.
 */
import type { TransportKind } from "../transports/Transport.ts"
import type { Implementation } from "./types.ts"

/** Decides per session whether responses after progress wait for a ping round trip. */
export type ProgressBarrierPolicy = (clientInfo: Implementation | undefined, transport: TransportKind) => boolean

/** clientInfo names of clients known not to lose progress read together with the response. */
const UNAFFECTED_CLIENTS: ReadonlySet<string> = new Set(["mcp-actors"])

/**
 * The barrier for stdio and WebSocket clients other than mcp-actors: the SDK
 * client cannot be recognised by clientInfo, so every unknown client pays one
 * ping round trip on requests that reported progress, rather than lose it.
 */
export const defaultProgressBarrier: ProgressBarrierPolicy = (clientInfo, transport) =>
  (transport === "stdio" || transport === "ws") && !(clientInfo !== undefined && UNAFFECTED_CLIENTS.has(clientInfo.name))

/** How long the response waits for the pong at most (runtime clock): a client that does not answer pings still gets it. */
export const PROGRESS_BARRIER_TIMEOUT_MS = 2_000
