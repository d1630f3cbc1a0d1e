/**
 * How a chart transition is labelled in generated diagrams (Mermaid, DOT): the
 * event, with xstate's synthesized event types turned back into what the chart
 * author wrote (`after <delay>`, `onDone`, `onError`, `always`), then the guard
 * name in brackets and the action names after a slash.
 */
import type { AnyStateNode, AnyTransitionDefinition } from "xstate"

const nameOf = (x: unknown): string | undefined => {
  if (typeof x === "string") return x
  if (typeof x === "object" && x !== null && "type" in x && typeof x.type === "string") return x.type
  if (typeof x === "function" && x.name !== "") return x.name
  return undefined
}

/** The event part: `after pingTimeout`, `onDone`, `onError`, `always`, or the event type. */
export const eventLabel = (transition: AnyTransitionDefinition, source: AnyStateNode): string => {
  const type = String(transition.eventType ?? "")
  if (type === "") return "always"
  if (type.startsWith("xstate.after.")) {
    // `xstate.after.<delay>.<source id>`
    const rest = type.slice("xstate.after.".length)
    const suffix = `.${source.id}`
    return `after ${rest.endsWith(suffix) ? rest.slice(0, -suffix.length) : rest}`
  }
  if (type.startsWith("xstate.done.")) return "onDone"
  if (type.startsWith("xstate.error.")) return "onError"
  return type
}

/** The full label: `<event>[ [guard]][ / action, action]`. */
export const transitionLabel = (transition: AnyTransitionDefinition, source: AnyStateNode, always = false): string => {
  let label = always ? "always" : eventLabel(transition, source)
  if (transition.guard !== undefined) label += ` [${nameOf(transition.guard) ?? "guarded"}]`
  const actions = transition.actions.map(nameOf).filter((n): n is string => n !== undefined)
  if (actions.length > 0) label += ` / ${actions.join(", ")}`
  return label
}

/** Every transition of a node, `always` ones last, with its label. */
export const transitionsOf = (
  node: AnyStateNode
): ReadonlyArray<{ readonly transition: AnyTransitionDefinition; readonly label: string }> => [
  ...[...node.transitions.values()].flat().map((t) => ({ transition: t, label: transitionLabel(t, node) })),
  ...(node.always ?? []).map((t) => ({ transition: t, label: transitionLabel(t, node, true) }))
]

/** A diagram-safe identifier for a state node (its id with non-alphanumerics as `_`). */
export const nodeName = (node: AnyStateNode): string => node.id.replace(/[^A-Za-z0-9]/g, "_")
