/**
 * Hibernation: an idle operating session keeps its chart as xstate's persisted
 * snapshot (plain data) instead of a live actor, and may leave the process as JSON.
 * While it sleeps, the chart still decides when it is idle: a pure step of the
 * snapshot on `RESUMED` with the current activity facts.
 */
import { type Actor, transition } from "xstate"
import type { ActivityFacts, LegacyServerSessionContext, legacyServerSessionMachine } from "../../../machines/legacyServerSession.ts"
import type { LoggingLevel } from "../types.ts"
import { runtimeServerMachine } from "./serverChart.ts"

/** What a hibernated session keeps of its chart: xstate's persisted snapshot (plain JSON data). */
export type PersistedChart = ReturnType<Actor<typeof legacyServerSessionMachine>["getPersistedSnapshot"]> & {
  readonly value: unknown
  readonly context: LegacyServerSessionContext
}

/**
 * A hibernated session as plain data (survives `JSON.stringify`): its id, its chart's
 * persisted snapshot, and the session state requests changed outside the chart. A
 * fresh process serves the same session on from it (`ServerSessionOptions.restore`).
 */
export interface PersistedServerSession {
  readonly id: string
  readonly chart: PersistedChart
  /** When the last request finished, on the session's clock (the idle deadline counts from it). */
  readonly lastSettledAt: number
  readonly startedAt: number
  readonly logLevel?: LoggingLevel
  /** Resource URIs the client subscribed to. */
  readonly subscriptions?: ReadonlyArray<string>
}

/**
 * What the chart decides for a sleeping session given the facts: `wake` (its idle deadline
 * passed: restore the actor, which takes the same step for real), or sleep on for `sleepMs`
 * with the chart's updated snapshot (`undefined`: no idle deadline, sleep until woken).
 */
export const sleepDecision = (
  chart: PersistedChart,
  facts: ActivityFacts
): { readonly wake: true } | { readonly wake: false; readonly chart: PersistedChart; readonly sleepMs: number | undefined } => {
  if (chart.context.idleTimeoutMs <= 0) return { wake: false, chart, sleepMs: undefined }
  const [next] = transition(
    runtimeServerMachine,
    runtimeServerMachine.resolveState({ value: chart.value as "operating", context: chart.context }),
    { type: "RESUMED", ...facts }
  )
  if (next.value !== "operating") return { wake: true }
  return { wake: false, chart: compactChart({ ...chart, context: next.context }), sleepMs: next.context.idleDelayMs }
}

/** Shared by every hibernated chart with no history and no children (frozen: xstate only reads them). */
const NONE: Readonly<Record<string, never>> = Object.freeze({})
const isEmpty = (o: unknown): boolean => {
  if (typeof o !== "object" || o === null || o === NONE) return false
  for (const _ in o) return false
  return true
}

/** The keys of xstate 5's persisted snapshot of a machine, in its order. */
const PERSISTED_KEYS = "status,output,error,value,historyValue,context,children"

/**
 * `chart` (a fresh persisted snapshot, ours to change) with its empty `historyValue`
 * and `children` replaced by one shared frozen object, as an object literal (xstate's
 * spread-built snapshot keeps its properties out of line): ~150 bytes per sleeping session.
 */
export const compactChart = (chart: PersistedChart): PersistedChart => {
  const c = chart as unknown as { status: unknown; output: unknown; error: unknown; value: unknown; historyValue?: unknown; context: unknown; children?: unknown }
  const historyValue = isEmpty(c.historyValue) ? NONE : c.historyValue
  const children = isEmpty(c.children) ? NONE : c.children
  if (Object.keys(c).join(",") !== PERSISTED_KEYS) {
    // Another shape (a stopped chart, a future xstate): only the empty objects are shared.
    if (historyValue === NONE) c.historyValue = NONE
    if (children === NONE) c.children = NONE
    return chart
  }
  return { status: c.status, output: c.output, error: c.error, value: c.value, historyValue, context: c.context, children } as unknown as PersistedChart
}

/** Throws unless `p` looks like what `ServerSession.persist` returns (a corrupt record fails clearly, not later). */
export const checkRestorable = (p: PersistedServerSession): void => {
  const chart = p?.chart
  if (chart?.status !== "active" || chart.value !== "operating" || typeof chart.context !== "object" || chart.context === null) {
    throw new Error(`cannot restore session ${String(p?.id)}: its chart is not a persisted operating session`)
  }
}
