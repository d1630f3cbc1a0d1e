/**
 * Hibernating a session (see `hibernation.ts` for the persisted form and the sleeping
 * chart's idle decision): stop its actor and keep the chart's snapshot in a `Sleep`;
 * `persist` hands that out as plain data; `restoreSession` takes one over in a fresh process.
 */
import { emptyTable } from "../../runtime/EmptyTable.ts"
import type { ServerSession } from "../ServerSession.ts"
import { checkRestorable, compactChart, type PersistedChart, type PersistedServerSession } from "./hibernation.ts"
import { unbindChart } from "./serverChart.ts"
import { Sleep } from "./Sleep.ts"

/** See `ServerSession.hibernate`. */
export const hibernate = (s: ServerSession): boolean => {
  const actor = s.actor
  if (actor === undefined || !s.operating || s.draining || s.released) return false
  if (s.inFlight.size > 0 || (s.outbound?.size ?? 0) > 0) return false
  // No live object in the context: xstate's persisted snapshot is plain data (and shares the context).
  const sleep = (s.hibernated = new Sleep(compactChart(actor.getPersistedSnapshot() as PersistedChart), s))
  s.inFlight = emptyTable() // empty here: an idle session keeps no table
  s.actor = undefined
  actor.stop()
  unbindChart(actor)
  sleep.decide()
  return true
}

/** See `ServerSession.hibernateIfIdleFor`. */
export const hibernateIfIdleFor = (s: ServerSession, idleMs: number): boolean => {
  if (s.inFlight.size > 0 || s.now() - s.lastSettledAt < idleMs) return false
  if (s.hibernated !== undefined) s.inFlight = emptyTable() // asleep already, woken by requests only: drop their (empty) table
  return hibernate(s)
}

/** See `ServerSession.persist`. */
export const persist = (s: ServerSession): PersistedServerSession | undefined => {
  if (s.hibernated === undefined && !hibernate(s)) return undefined
  const subscriptions = s.state.subscriptions
  return {
    id: s.id,
    chart: s.hibernated!.chart,
    lastSettledAt: s.lastSettledAt,
    startedAt: s.startedAt,
    ...(s.state.logLevel === undefined ? {} : { logLevel: s.state.logLevel }),
    ...(subscriptions === undefined || subscriptions.size === 0 ? {} : { subscriptions: [...subscriptions] })
  }
}

/** Take over a session another process persisted: hibernated in `operating`, as it was left. */
export const restoreSession = (s: ServerSession, p: PersistedServerSession): void => {
  checkRestorable(p)
  s.era = "legacy"
  const sleep = (s.hibernated = new Sleep(p.chart, s))
  s.lastSettledAt = p.lastSettledAt
  if (p.logLevel !== undefined) s.state.logLevel = p.logLevel
  if (p.subscriptions !== undefined) s.state.subscriptions = new Set(p.subscriptions)
  // What the chart's `announceReady` did in the first process.
  s.operating = true
  s.readied = true
  s.server.watch(s)
  sleep.decide()
}
