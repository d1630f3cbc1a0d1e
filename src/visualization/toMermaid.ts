/**
 * Render a statechart as a Mermaid `stateDiagram-v2` (toolchain.md §8): compound and
 * parallel states become `state X { … }` blocks (parallel regions separated by `--`),
 * leaves get their key as description, finals point to `[*]`, and each transition is
 * labelled by `transitionLabel` (`after <delay>`, `onDone`, `onError`, `always`,
 * `[guard]`, `/ actions`). A targetless transition is drawn as a self-loop.
 */
import type { AnyStateMachine, AnyStateNode } from "xstate"
import { nodeName, transitionsOf } from "./transitionLabel.ts"

/**
 * Render a statechart as a Mermaid `stateDiagram-v2` (how the README draws the charts;
 * GitHub renders it inline).
 */
export const toMermaid = (machine: AnyStateMachine): string => {
  const lines: Array<string> = ["stateDiagram-v2"]
  const walk = (node: AnyStateNode, depth: number): void => {
    const pad = "  ".repeat(depth)
    const name = nodeName(node)
    const children = Object.values(node.states) as Array<AnyStateNode>
    if (children.length > 0) {
      lines.push(`${pad}state ${name} {`)
      children.forEach((child, i) => {
        if (node.type === "parallel" && i > 0) lines.push(`${pad}  --`)
        walk(child, depth + 1)
      })
      if (node.type !== "parallel") {
        for (const target of node.initial.target) lines.push(`${pad}  [*] --> ${nodeName(target)}`)
      }
      lines.push(`${pad}}`)
    } else {
      lines.push(`${pad}${name} : ${node.key}`)
    }
    for (const { transition, label } of transitionsOf(node)) {
      const targets = transition.target ?? [node]
      for (const target of targets) lines.push(`${pad}${name} --> ${nodeName(target)} : ${label}`)
    }
    if (node.type === "final") lines.push(`${pad}${name} --> [*]`)
  }
  walk(machine.root, 0)
  return lines.join("\n") + "\n"
}
