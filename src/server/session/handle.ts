/**
 * The session as the runtime, the registry and the inspector see it (`SessionHandle`):
 * its state name, its `SessionInfo`, and the change notices its subscribers get.
 */
import type { SessionInfo } from "../../runtime/SessionHandle.ts"
import type { ServerSession } from "../ServerSession.ts"

/** The chart's state value as a dotted string (`stateless` for a modern-only connection). */
export const stateName = (s: ServerSession): string => {
  if (s.hibernated !== undefined) return flatten(s.hibernated.chart.value)
  const actor = s.actor
  if (!actor || (s.era === "modern" && actor.getSnapshot().value === "awaitingInitialize")) {
    return s.released ? "closed" : s.era === "modern" ? "stateless" : "awaitingInitialize"
  }
  return flatten(actor.getSnapshot().value)
}

/**
 * The session's summary. Read once per session by an inspector nobody watches (the last one, when the
 * session leaves the registry). Why no spread for `requests`: `...(none ? {} : {…})` made an empty
 * object and copied it in, on every summary, ≈ 3× the time of the summary alone.
 */
export const info = (s: ServerSession): SessionInfo => {
  const inFlight = s.inFlight
  const summary: { -readonly [K in keyof SessionInfo]: SessionInfo[K] } = {
    id: s.id,
    role: "server",
    era: s.era,
    protocolVersion: s.protocolVersion,
    state: stateName(s),
    transport: s.options.transport,
    peer: s.clientInfo,
    inFlight: inFlight.size,
    startedAt: s.startedAt
  }
  if (inFlight.size > 0) {
    summary.requests = Array.from(inFlight.values(), (e) => (e.receivedAt === undefined ? { id: e.request.id, method: e.request.method } : { id: e.request.id, method: e.request.method, since: e.receivedAt }))
  }
  return summary
}

/** Tell the subscribers (called on every chart step and in-flight edge: no closure unless someone listens). */
export const notifyListeners = (s: ServerSession): void => {
  s.infoVersion++
  const listeners = s.listeners
  if (listeners !== undefined && listeners.size > 0) listeners.notify(s)
}

const flatten = (value: unknown, prefix = ""): string => {
  if (typeof value === "string") return prefix + value
  return Object.entries(value as Record<string, unknown>).map(([k, v]) => flatten(v, `${prefix}${k}.`)).join("|")
}
