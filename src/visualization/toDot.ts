/**
 * Render a statechart as Graphviz DOT: the same walk as `toMermaid`, with
 * `subgraph cluster_<name>` for compound and parallel states (parallel regions
 * dashed), a point node per cluster standing for the state itself (the initial
 * pseudostate of a compound state), `compound=true` with `lhead`/`ltail` so edges
 * to and from a composite state meet its cluster border, and finals drawn with a
 * double border.
 */
import type { AnyStateMachine, AnyStateNode } from "xstate"
import { nodeName, transitionsOf } from "./transitionLabel.ts"

const quote = (s: string): string => `"${s.replace(/\\/g, "\\\\").replace(/"/g, "\\\"")}"`
const isComposite = (node: AnyStateNode): boolean => Object.keys(node.states).length > 0
/** Whether `node` lies inside `ancestor` (or is it). */
const isWithin = (node: AnyStateNode, ancestor: AnyStateNode): boolean => {
  for (let n: AnyStateNode | undefined = node; n !== undefined; n = n.parent) if (n === ancestor) return true
  return false
}

/** Render a statechart as Graphviz DOT, for diagrams larger than Mermaid lays out well. */
export const toDot = (machine: AnyStateMachine): string => {
  const lines: Array<string> = [
    `digraph ${quote(machine.id)} {`,
    "  compound=true;",
    "  rankdir=LR;",
    "  node [shape=box, style=rounded, fontname=\"Helvetica\"];",
    "  edge [fontname=\"Helvetica\", fontsize=10];"
  ]
  const edges: Array<string> = []
  const walk = (node: AnyStateNode, depth: number): void => {
    const pad = "  ".repeat(depth)
    const name = nodeName(node)
    if (isComposite(node)) {
      lines.push(`${pad}subgraph ${quote(`cluster_${name}`)} {`)
      lines.push(`${pad}  label=${quote(node.type === "parallel" ? `${node.key} (parallel)` : node.key)};`)
      if (node.parent?.type === "parallel") lines.push(`${pad}  style=dashed;`)
      lines.push(`${pad}  ${quote(name)} [shape=point, width=0.12];`)
      for (const child of Object.values(node.states) as Array<AnyStateNode>) walk(child, depth + 1)
      lines.push(`${pad}}`)
      if (node.type !== "parallel") {
        for (const target of node.initial.target) edges.push(edge(node, target, ""))
      }
    } else {
      const shape = node.type === "final" ? ", peripheries=2" : ""
      lines.push(`${pad}${quote(name)} [label=${quote(node.key)}${shape}];`)
    }
    for (const { transition, label } of transitionsOf(node)) {
      for (const target of transition.target ?? [node]) edges.push(edge(node, target, label))
    }
  }
  const edge = (from: AnyStateNode, to: AnyStateNode, label: string): string => {
    const attrs = [`label=${quote(label)}`]
    if (isComposite(to) && !isWithin(from, to)) attrs.push(`lhead=${quote(`cluster_${nodeName(to)}`)}`)
    if (isComposite(from) && !isWithin(to, from)) attrs.push(`ltail=${quote(`cluster_${nodeName(from)}`)}`)
    return `  ${quote(nodeName(from))} -> ${quote(nodeName(to))} [${attrs.join(", ")}];`
  }
  walk(machine.root, 1)
  return [...lines, ...edges, "}"].join("\n") + "\n"
}
