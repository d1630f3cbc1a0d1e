/**
 * Interop workaround for the official TypeScript SDK client's stdio and
 * WebSocket transports (typescript-sdk issue #2580, seen in 1.32.x): its read
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
 * Who gets it: the SDK's `Client` sends the application's clientInfo, so the
 * SDK cannot be recognised by name. The default applies the barrier on stdio
 * and WebSocket (its HTTP transport awaits each SSE event, which drains the
 * microtasks in between, so it is unaffected) to every client except those
 * known to read in order (ours, clientInfo name "mcp-actors"), and only to
 * requests that reported progress. Cost: one ping round trip on those requests.
 */
import type { TransportKind } from "../transports/Transport.ts"
import type { Implementation } from "./types.ts"

/** Decides per session whether responses after progress wait for a ping round trip. */
export type ProgressBarrierPolicy = (clientInfo: Implementation | undefined, transport: TransportKind) => boolean

/** clientInfo names of clients known not to lose progress read together with the response. */
const UNAFFECTED_CLIENTS: ReadonlySet<string> = new Set(["mcp-actors"])

/** The default policy: stdio and WebSocket clients, except those known to be unaffected. */
export const defaultProgressBarrier: ProgressBarrierPolicy = (clientInfo, transport) =>
  (transport === "stdio" || transport === "ws") && !(clientInfo !== undefined && UNAFFECTED_CLIENTS.has(clientInfo.name))

/** How long the response waits for the pong at most (runtime clock): a client that does not answer pings still gets it. */
export const PROGRESS_BARRIER_TIMEOUT_MS = 2_000
