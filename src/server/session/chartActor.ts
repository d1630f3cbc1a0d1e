/**
 * The session's chart as a running actor: made on the first legacy message (or at once
 * with a handshake deadline), restored from the sleep's snapshot when a hibernated
 * session wakes, with the facts of a chart that starts after its connection did; and the
 * session facts read from the chart's context.
 */
import type { ActorOptions } from "xstate"
import { errorMessage } from "../../protocol/errors.ts"
import { LEGACY_VERSIONS } from "../../protocol/versions.ts"
import { createLeanActor } from "../../runtime/ActorScheduler.ts"
import { ACTOR_SESSION } from "../../runtime/SessionHandle.ts"
import type { ServerSession } from "../ServerSession.ts"
import type { Implementation } from "../types.ts"
import { release } from "./ending.ts"
import { notifyListeners } from "./handle.ts"
import type { Negotiated } from "./HandlerContext.ts"
import { bindChart, runtimeServerLogic, type runtimeServerMachine } from "./serverChart.ts"

/** The session's running chart: the one it has, or a new one (restored from the sleep's snapshot when hibernated). */
export const ensureActor = (s: ServerSession) => s.actor ?? startChart(s)

const startChart = (s: ServerSession) => {
  const sleep = s.hibernated
  if (sleep !== undefined) {
    s.hibernated = undefined
    sleep.end()
  }
  const o = s.options
  // One options object, filled in place (no spread temporaries: every churned session makes one).
  const actorOptions: ActorOptions<typeof runtimeServerMachine> & { -readonly [K in "snapshot" | "clock" | "parent"]?: unknown } & { readonly [ACTOR_SESSION]: ServerSession } = {
    id: s.id,
    // The session, on the actor (xstate keeps its options): the inspector joins them through it.
    [ACTOR_SESSION]: s,
    input: {
      supportedVersions: o.supportedVersions ?? LEGACY_VERSIONS,
      idleTimeoutMs: o.idleTimeoutMs ?? 0,
      handshakeTimeoutMs: o.handshakeTimeoutMs ?? 0,
      drainTimeoutMs: o.drainTimeoutMs ?? 5_000,
      earlyRequests: o.earlyRequests ?? "reject",
      // The facts, for a chart that starts after its connection did.
      servedModern: s.servedModern,
      elapsedMs: s.now() - s.createdAt,
      activity: s.activity()
    }
  }
  if (sleep !== undefined) actorOptions.snapshot = sleep.chart
  if (o.clock) actorOptions.clock = o.clock
  if (o.actorParent !== undefined) actorOptions.parent = o.actorParent
  const actor = createLeanActor(runtimeServerLogic, actorOptions as ActorOptions<typeof runtimeServerMachine>)
  bindChart(actor, s)
  s.actor = actor
  actor.subscribe({
    next: () => notifyListeners(s),
    // A throwing action stops the chart (xstate reports it here, or rethrows it on a timer when
    // nobody listens, which would kill the process): end this session, not the others.
    error: (e) => {
      s.reportError(e)
      queueMicrotask(() => release(s, { expected: false, reason: `internal error: ${errorMessage(e)}` }))
    }
  })
  actor.start()
  // A restored actor has no timers: the chart decides on idleness and re-arms the deadline.
  if (sleep !== undefined) actor.send({ type: "RESUMED", ...s.activity() })
  return actor
}

/** What the handshake negotiated, from the chart's context (kept once `operating`: it no longer changes). */
export const negotiatedFacts = (s: ServerSession): Negotiated => {
  const c = s.chartContext()
  const n: Negotiated = {
    protocolVersion: c?.protocolVersion ?? LEGACY_VERSIONS[0],
    clientCapabilities: c?.clientCapabilities ?? {},
    clientInfo: c?.clientInfo as Implementation | undefined
  }
  if (s.operating) s.negotiatedCache = n
  return n
}
