/**
 * Keep the charts embedded in Markdown files in step with the machines: a
 * block between `<!-- chart:ID -->` and `<!-- /chart:ID -->` is replaced by
 * the Mermaid rendering of machine ID. `npm run charts` rewrites them; a test
 * fails when a block is stale, so no diagram is ever drawn by hand.
 */
import { readFile, writeFile } from "node:fs/promises"
import { allMachines } from "./exportCharts.ts"
import { toMermaid } from "./toMermaid.ts"

const BLOCK = /<!-- chart:([A-Za-z0-9_]+) -->\n[\s\S]*?<!-- \/chart:\1 -->/g

export const renderChartBlocks = (markdown: string): string => {
  const machines = allMachines()
  return markdown.replace(BLOCK, (whole, id: string) => {
    const machine = machines.get(id)
    if (!machine) return whole
    return `<!-- chart:${id} -->\n\`\`\`mermaid\n${toMermaid(machine).trimEnd()}\n\`\`\`\n<!-- /chart:${id} -->`
  })
}

/** Rewrite the chart blocks of `path`; returns true when the file changed. */
export const embedCharts = async (path: string): Promise<boolean> => {
  const before = await readFile(path, "utf8")
  const after = renderChartBlocks(before)
  if (after !== before) await writeFile(path, after, "utf8")
  return after !== before
}
