/**
 * The legacy server chart as the runtime runs it: `machines/legacyServerSession.ts` with
 * the runtime's actions (its effects). Guards and delays are the chart's own.
 */
import { type AnyActorRef, raise } from "xstate"
import { type LegacyServerSessionEvent, legacyServerSessionMachine, type RejectParams } from "../../../machines/legacyServerSession.ts"
import type { ServerSession } from "../ServerSession.ts"

/**
 * The session each running chart belongs to. Not in the chart's context: a live object
 * there would make snapshots unserializable (hibernation persists them as JSON).
 */
const owners = new WeakMap<AnyActorRef, ServerSession>()
const owner = (self: AnyActorRef): ServerSession => owners.get(self)!

/** Make `actor` run for `session` (before it starts). */
export const bindChart = (actor: AnyActorRef, session: ServerSession): void => void owners.set(actor, session)
/** `actor` was stopped: it no longer runs for its session. */
export const unbindChart = (actor: AnyActorRef): void => void owners.delete(actor)

/**
 * The server chart with the runtime's implementations, built once: creating a
 * machine per session (`.provide()` per instance) cost ~20 % of session set-up.
 * Only actions are provided (the effects); guards and delays are the chart's own,
 * reading context and events, so tests of the chart run what production runs.
 * Each action finds its session through the actor (`self`).
 */
export const runtimeServerMachine = legacyServerSessionMachine.provide({
  actions: {
    respondInitialize: ({ context, self }, params) => owner(self)._respondInitialize(params.id, context.protocolVersion),
    reject: ({ self }, params: RejectParams) => owner(self)._reject(params),
    replyPong: ({ self }, params) => owner(self)._replyPong(params.id),
    dispatch: ({ self }, params) => owner(self)._dispatchHeld(params.id),
    announceReady: ({ self }) => owner(self)._announceReady(),
    beginDrain: ({ self }) => owner(self)._beginDrain(),
    cancelInFlight: ({ self }) => owner(self)._cancelInFlight(),
    release: ({ context, self }) => owner(self)._released(context.closeReason ?? "closed"),
    reportActivity: raise(({ self }: { self: AnyActorRef }): LegacyServerSessionEvent => ({ type: "IDLE_CHECK", ...owner(self).activity() }))
  }
})

