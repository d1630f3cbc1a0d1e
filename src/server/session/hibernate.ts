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

/**
 * The session the chart just allowed to hibernate (its `hibernate` action, run within the
 * `HIBERNATE` step `hibernate` sends): one module slot, not a field per session, since the
 * step is synchronous and the answer is read right after it.
 */
let granted: ServerSession | undefined

/** The chart's `hibernate` action (see `serverChart.ts`): the chart allows `s` to sleep. */
export const hibernationGranted = (s: ServerSession): void => {
  granted = s
}

/** Whether the step just taken allowed `s` to sleep (and clear the slot). */
const takeGranted = (s: ServerSession): boolean => {
  const yes = granted === s
  granted = undefined
  return yes
}

/**
 * See `ServerSession.hibernate`. The chart decides (`HIBERNATE`, guard `canHibernate` on the
 * facts in the event: only `operating` with nothing in flight); this executes what it decided.
 */
export const hibernate = (s: ServerSession): boolean => {
  const actor = s.actor
  // No running chart to ask: none yet, asleep already, or ended.
  if (actor === undefined || s.released || actor.getSnapshot().status !== "active") return false
  granted = undefined
  actor.send({ type: "HIBERNATE", inFlight: s.inFlight.size, outbound: s.outbound?.size ?? 0, idleForMs: s.now() - s.lastSettledAt })
  if (!takeGranted(s)) return false
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
  // The sweeper's policy (how long idle before it asks); whether it may is the chart's answer.
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
