/**
 * Replay a record through the pure chart it was recorded from (`machines/`):
 * start from the record's base state, apply each recorded event with xstate's
 * pure `transition`, and compare the state reached with the one recorded.
 *
 * Why: a record is evidence of what a session did; replaying it against the
 * chart as it is now tells whether the chart still explains it. The first
 * disagreement (the chart changed, or a guard read something that is not in
 * the context or the event) is reported, never smoothed over.
 */
import { Schema } from "effect"
import { type AnyMachineSnapshot, type AnyStateMachine, type EventObject, type StateValue, transition } from "xstate"
import { allMachines } from "../visualization/exportCharts.ts"
import { RECORD_FORMAT, type RecordFile, stateLabel } from "./SessionRecord.ts"

/** One replayed event: the state recorded and the state the chart gives now. */
export interface ReplayStep {
  readonly t: number
  readonly event: string
  /** A delayed event (`after`) that fired. */
  readonly timer: boolean
  readonly recorded: string
  readonly replayed: string
  readonly agrees: boolean
}

/** What a replay found: the path of states, the timers that fired, the end, the first divergence. */
export interface ReplayResult {
  readonly machine: string
  readonly start: string
  readonly steps: ReadonlyArray<ReplayStep>
  /** The delayed events that fired, in order. */
  readonly timers: ReadonlyArray<{ readonly t: number; readonly event: string }>
  /** Why the session ended (the record's end), or undefined while it was live. */
  readonly ended: string | undefined
  /** The first step whose replayed state differs from the recorded one. */
  readonly divergence: { readonly index: number; readonly step: ReplayStep } | undefined
}

/** The record is not a record, or names a chart this build does not have. */
export class ReplayError extends Schema.TaggedError<ReplayError>()("ReplayError", { message: Schema.String }) {}

const isTimer = (type: string) => type.startsWith("xstate.after.")

/** Parse and check a record file's shape (from JSON text or an object). */
export const parseRecord = (input: string | unknown): RecordFile => {
  let value: unknown
  try {
    value = typeof input === "string" ? JSON.parse(input) : input
  } catch (e) {
    throw new ReplayError({ message: `not JSON: ${(e as Error).message}` })
  }
  const r = value as Partial<RecordFile> | null
  if (r === null || typeof r !== "object" || r.format !== RECORD_FORMAT) throw new ReplayError({ message: `not an mcp-actors record (format must be "${RECORD_FORMAT}")` })
  if (!Array.isArray(r.records)) throw new ReplayError({ message: "record has no records array" })
  for (const [i, e] of r.records.entries()) {
    const event = (e as { event?: { type?: unknown } } | null)?.event
    if (typeof event?.type !== "string") throw new ReplayError({ message: `records[${i}] has no event type` })
  }
  return r as RecordFile
}

/**
 * The chart with its named `sendTo` actions made no-ops: a record holds one actor's events, and
 * its children (e.g. the client session's keepalive) are not running in a replay; their own
 * records replay their side.
 */
const withoutSendsToChildren = (machine: AnyStateMachine): AnyStateMachine => {
  const overrides: Record<string, () => void> = {}
  for (const [name, action] of Object.entries(machine.implementations.actions ?? {})) {
    if ((action as { type?: unknown } | undefined)?.type === "xstate.sendTo") overrides[name] = () => {}
  }
  return Object.keys(overrides).length === 0 ? machine : machine.provide({ actions: overrides as never })
}

/** Replay `record` through its machine (by default the one of that id in `machines/`). */
export const replayRecord = (record: RecordFile, machines: ReadonlyMap<string, AnyStateMachine> = allMachines()): ReplayResult => {
  if (record.machine === undefined) throw new ReplayError({ message: "record names no machine (not a state machine actor)" })
  const chart = machines.get(record.machine)
  if (chart === undefined) throw new ReplayError({ message: `no chart "${record.machine}" in machines/ (known: ${[...machines.keys()].join(", ")})` })
  const machine = withoutSendsToChildren(chart)
  const base = record.base
  if (base === undefined || base.value === undefined) throw new ReplayError({ message: "record has no starting state" })
  let snapshot: AnyMachineSnapshot = machine.resolveState({ value: base.value as StateValue, context: base.context as never })
  const steps: Array<ReplayStep> = []
  const timers: Array<{ t: number; event: string }> = []
  let divergence: ReplayResult["divergence"]
  for (const entry of record.records) {
    const event = entry.event as EventObject
    const [next] = transition(machine, snapshot, event as never)
    snapshot = next as AnyMachineSnapshot
    const recorded = `${stateLabel(entry.value)}${entry.status === "active" ? "" : ` (${entry.status})`}`
    const replayed = `${stateLabel(snapshot.value)}${snapshot.status === "active" ? "" : ` (${snapshot.status})`}`
    const step: ReplayStep = { t: entry.t, event: event.type, timer: isTimer(event.type), recorded, replayed, agrees: recorded === replayed }
    steps.push(step)
    if (step.timer) timers.push({ t: entry.t, event: event.type })
    if (!step.agrees && divergence === undefined) divergence = { index: steps.length - 1, step }
  }
  return {
    machine: record.machine,
    start: stateLabel(base.value),
    steps,
    timers,
    ended: record.end === undefined ? undefined : `${record.end.reason}${record.end.error ? " (error)" : ""} [${record.end.status}]`,
    divergence
  }
}

/** The replay as text: the path of states, the timers, the end, and the first divergence. */
export const formatReplay = (result: ReplayResult, record: RecordFile): string => {
  const lines: Array<string> = []
  const t0 = record.base?.t ?? record.startedAt
  const at = (t: number) => `+${String(t - t0).padStart(6)} ms`
  lines.push(`chart ${result.machine}, session ${record.id}${record.dropped > 0 ? ` (${record.dropped} earlier events were not kept)` : ""}`)
  lines.push(`${at(t0)}  start               ${result.start}`)
  for (const step of result.steps) {
    const mark = step.agrees ? " " : "✗"
    lines.push(`${at(step.t)} ${mark} ${(step.timer ? `⏱ ${step.event}` : step.event).padEnd(20)} → ${step.replayed}${step.agrees ? "" : `   (recorded: ${step.recorded})`}`)
  }
  lines.push(result.timers.length === 0 ? "timers fired: none" : `timers fired: ${result.timers.map((x) => x.event).join(", ")}`)
  lines.push(`ended: ${result.ended ?? "still live when recorded"}`)
  if (result.divergence !== undefined) {
    const { index, step } = result.divergence
    lines.push(`DIVERGED at event #${index + 1} (${step.event}): recorded ${step.recorded}, the chart now gives ${step.replayed}`)
  } else lines.push(`replay agrees with the record (${result.steps.length} events)`)
  return lines.join("\n")
}
