/**
 * Lay out a chart for the inspector's page with elkjs (layered, compound
 * states as nested boxes), once per machine: the page draws boxes and edges
 * at the positions computed here and only recolours the active states, so the
 * picture stays still while a session moves.
 *
 * Nodes are named by their path of keys (`machine.operating.busy`), which is
 * what the page derives from a snapshot's state value.
 */
import type { AnyStateMachine, AnyStateNode } from "xstate"
import { eventLabel } from "../visualization/transitionLabel.ts"

export interface LaidOutNode {
  readonly id: string
  readonly key: string
  readonly type: string
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
  readonly compound: boolean
}
export interface LaidOutEdge {
  readonly from: string
  readonly to: string
  readonly label: string
  readonly points: ReadonlyArray<readonly [number, number]>
  readonly labelAt: { readonly x: number; readonly y: number } | undefined
}
export interface ChartLayout {
  readonly machine: string
  readonly width: number
  readonly height: number
  readonly nodes: ReadonlyArray<LaidOutNode>
  readonly edges: ReadonlyArray<LaidOutEdge>
}

interface ElkNode {
  id: string
  width?: number
  height?: number
  x?: number
  y?: number
  labels?: Array<{ text: string; width: number; height: number }>
  children?: Array<ElkNode>
  edges?: Array<ElkEdge>
  layoutOptions?: Record<string, string>
}
interface ElkEdge {
  id: string
  sources: Array<string>
  targets: Array<string>
  labels?: Array<{ text: string; width: number; height: number; x?: number; y?: number }>
  sections?: Array<{ startPoint: { x: number; y: number }; endPoint: { x: number; y: number }; bendPoints?: Array<{ x: number; y: number }> }>
  container?: string
}

const CHAR = 7
const textWidth = (s: string) => Math.max(40, s.length * CHAR + 20)

/** Path ids: the machine id, then the keys down to the node. */
const pathId = (node: AnyStateNode): string => [node.machine.id, ...node.path].join(".")

type Elk = { layout(graph: unknown): Promise<unknown> }
let elk: Promise<Elk> | undefined
/** elkjs (1.5 MB of JavaScript) is loaded on the first layout, not with the package. */
const loadElk = (): Promise<Elk> =>
  elk ??= import("elkjs/lib/elk.bundled.js").then((m) => {
    // A CommonJS module: its default export is the constructor at run time, whatever its types say.
    const Ctor = m.default as unknown as new () => Elk
    return new Ctor()
  })

/** Lay out `machine`'s states and targeted transitions (self-transitions without a target are left out: they change no state). */
export const layoutChart = async (machine: AnyStateMachine): Promise<ChartLayout> => {
  const edges: Array<ElkEdge> = []
  const kinds = new Map<string, { key: string; type: string; compound: boolean }>()
  const build = (node: AnyStateNode): ElkNode => {
    const id = pathId(node)
    const children = Object.values(node.states) as Array<AnyStateNode>
    const compound = children.length > 0
    const title = node.type === "parallel" ? `${node.key} ∥` : node.key
    kinds.set(id, { key: node.key, type: node.type, compound })
    for (const transitions of node.transitions.values()) {
      for (const t of transitions) {
        for (const target of t.target ?? []) {
          edges.push({ id: `e${edges.length}`, sources: [id], targets: [pathId(target)], labels: [{ text: eventLabel(t, node), width: textWidth(eventLabel(t, node)) - 10, height: 14 }] })
        }
      }
    }
    for (const t of node.always ?? []) {
      for (const target of t.target ?? []) edges.push({ id: `e${edges.length}`, sources: [id], targets: [pathId(target)], labels: [{ text: "always", width: 50, height: 14 }] })
    }
    if (!compound) return { id, width: textWidth(title), height: 32, labels: [{ text: title, width: textWidth(title), height: 16 }] }
    return {
      id,
      labels: [{ text: title, width: textWidth(title), height: 16 }],
      layoutOptions: { "elk.padding": "[top=28,left=12,bottom=12,right=12]", "elk.direction": node.type === "parallel" ? "DOWN" : "RIGHT" },
      children: children.map(build)
    }
  }
  const root = build(machine.root)
  const graph: ElkNode = {
    id: "__graph",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "RIGHT",
      "elk.hierarchyHandling": "INCLUDE_CHILDREN",
      "elk.layered.spacing.nodeNodeBetweenLayers": "40",
      "elk.spacing.nodeNode": "24",
      "elk.spacing.edgeLabel": "4",
      "elk.edgeLabels.placement": "CENTER",
      // Same input, same picture: no random tie-breaking.
      "elk.randomSeed": "1"
    },
    children: [root],
    edges
  }
  const out = (await (await loadElk()).layout(graph)) as ElkNode
  const nodes: Array<LaidOutNode> = []
  const offsets = new Map<string, { x: number; y: number }>([["__graph", { x: 0, y: 0 }]])
  const walk = (n: ElkNode, ox: number, oy: number) => {
    const x = ox + (n.x ?? 0)
    const y = oy + (n.y ?? 0)
    offsets.set(n.id, { x, y })
    const kind = kinds.get(n.id)
    if (kind !== undefined) nodes.push({ id: n.id, ...kind, x, y, width: n.width ?? 0, height: n.height ?? 0 })
    for (const c of n.children ?? []) walk(c, x, y)
  }
  walk(out, -(out.x ?? 0), -(out.y ?? 0))
  const laid: Array<LaidOutEdge> = (out.edges ?? []).map((e) => {
    const o = offsets.get(e.container ?? "__graph") ?? { x: 0, y: 0 }
    const points: Array<readonly [number, number]> = []
    for (const s of e.sections ?? []) {
      points.push([s.startPoint.x + o.x, s.startPoint.y + o.y])
      for (const b of s.bendPoints ?? []) points.push([b.x + o.x, b.y + o.y])
      points.push([s.endPoint.x + o.x, s.endPoint.y + o.y])
    }
    const label = e.labels?.[0]
    return {
      from: e.sources[0]!,
      to: e.targets[0]!,
      label: label?.text ?? "",
      points,
      labelAt: label?.x === undefined || label.y === undefined ? undefined : { x: label.x + o.x, y: label.y + o.y }
    }
  })
  return { machine: machine.id, width: out.width ?? 0, height: out.height ?? 0, nodes, edges: laid }
}

const cache = new Map<string, Promise<ChartLayout>>()

/** The layout of `machine`, computed once per machine id (charts do not change while a process runs). */
export const chartLayout = (machine: AnyStateMachine): Promise<ChartLayout> => {
  let layout = cache.get(machine.id)
  if (layout === undefined) {
    layout = layoutChart(machine)
    cache.set(machine.id, layout)
    layout.catch(() => cache.delete(machine.id))
  }
  return layout
}
