import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { renderChartBlocks } from "../src/visualization/embedCharts.ts"

// The diagrams in the docs are generated from the machines, never drawn by hand:
// a stale block (the machine changed, `npm run charts` was not run) fails here.
describe.each(["README.md", "docs/architecture.md"])("%s", (file) => {
  const text = readFileSync(new URL(`../${file}`, import.meta.url), "utf8")
  it("has chart blocks", () => {
    expect(text).toMatch(/<!-- chart:legacyServerSession -->\n```mermaid\nstateDiagram-v2/)
  })
  it("has every chart block up to date", () => {
    expect(renderChartBlocks(text)).toBe(text)
  })
})
