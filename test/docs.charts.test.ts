import { readdirSync, readFileSync } from "node:fs"
import { type AnyStateMachine, StateMachine } from "xstate"
import { describe, expect, it } from "vitest"
import { renderChartBlocks } from "../src/visualization/embedCharts.ts"
import { allMachines } from "../src/visualization/exportCharts.ts"
import { toDot } from "../src/visualization/toDot.ts"
import { toMermaid } from "../src/visualization/toMermaid.ts"

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

// Issue 13: "every diagram in docs/charts/ comes from a chart that runs".
describe("docs/charts/", () => {
  const dir = new URL("../docs/charts/", import.meta.url)
  const root = new URL("../", import.meta.url)

  it("is exactly the rendering of every chart in machines/index.ts (Mermaid, DOT, JSON): none stale, none missing, none left over", () => {
    const expected = new Map<string, string>()
    for (const [id, machine] of allMachines()) {
      expected.set(`${id}.mmd`, toMermaid(machine))
      expected.set(`${id}.dot`, toDot(machine))
      expected.set(`${id}.json`, JSON.stringify(machine.toJSON(), null, 2) + "\n")
    }
    expect(expected.size).toBeGreaterThanOrEqual(3 * 17)
    expect(readdirSync(dir).sort(), "a file in docs/charts/ that no chart renders (or a chart with no file): run `npm run charts`").toEqual([...expected.keys()].sort())
    for (const [file, text] of expected) {
      expect(readFileSync(new URL(file, dir), "utf8"), `docs/charts/${file} is stale: run \`npm run charts\``).toBe(text)
    }
  })

  it("every chart in docs/charts/ is run by production code: src/ imports its machine as a value, or a chart that runs does (an invoked or spawned child)", async () => {
    // Which machines/ file and export name define each chart id.
    const defined = new Map<string, { readonly file: string; readonly names: Set<string> }>()
    for (const file of readdirSync(new URL("machines/", root)).filter((f) => f.endsWith(".ts") && f !== "index.ts")) {
      const module = (await import(new URL(`machines/${file}`, root).href)) as Record<string, unknown>
      for (const [name, value] of Object.entries(module)) {
        if (!(value instanceof StateMachine)) continue
        const id = (value as AnyStateMachine).id
        const entry = defined.get(id) ?? { file: file.replace(/\.ts$/, ""), names: new Set<string>() }
        entry.names.add(name)
        defined.set(id, entry)
      }
    }
    // Value imports (not `import type`, not `type X` specifiers) of a machines/ file: from src/ by a
    // path through machines/, from a chart by a sibling path (./keepalive.ts).
    const valueImports = (text: string, fromSrc: boolean): Array<{ readonly file: string; readonly names: ReadonlyArray<string> }> =>
      [...text.matchAll(fromSrc
        ? /import\s+(type\s+)?\{([^}]*)\}\s+from\s+"(?:\.\.\/)+machines\/(\w+)\.ts"/g
        : /import\s+(type\s+)?\{([^}]*)\}\s+from\s+"\.\/(\w+)\.ts"/g)]
        .filter((m) => m[1] === undefined)
        .map((m) => ({
          file: m[3]!,
          names: m[2]!.split(",").map((s) => s.trim()).filter((s) => s.length > 0 && !s.startsWith("type ")).map((s) => s.split(/\s+as\s+/)[0]!)
        }))
    const importsChart = (text: string, id: string, fromSrc: boolean): boolean => {
      const { file, names } = defined.get(id)!
      return valueImports(text, fromSrc).some((i) => i.file === file && i.names.some((n) => names.has(n)))
    }
    // Production code: src/ but the chart exporter (which imports every chart to draw it).
    const sources = (readdirSync(new URL("src/", root), { recursive: true }) as Array<string>)
      .filter((f) => f.endsWith(".ts") && !f.startsWith("visualization"))
      .map((f) => readFileSync(new URL(`src/${f}`, root), "utf8"))
      .filter((text) => /from\s+"(?:\.\.\/)+machines\//.test(text))
    const running = new Set<string>()
    for (const id of defined.keys()) if (sources.some((text) => importsChart(text, id, true))) running.add(id)
    // A chart run by a chart that runs (keepalive under the legacy client session, httpExchange under the connection).
    for (let grew = true; grew;) {
      grew = false
      for (const id of defined.keys()) {
        if (running.has(id)) continue
        const byRunning = [...running].some((parent) => importsChart(readFileSync(new URL(`machines/${defined.get(parent)!.file}.ts`, root), "utf8"), id, false))
        if (byRunning) {
          running.add(id)
          grew = true
        }
      }
    }
    const drawn = readdirSync(dir).filter((f) => f.endsWith(".mmd")).map((f) => f.replace(/\.mmd$/, "")).sort()
    expect(drawn.length).toBeGreaterThanOrEqual(17)
    expect(drawn.filter((id) => !defined.has(id)), "a diagram whose chart is not in machines/").toEqual([])
    expect(drawn.filter((id) => !running.has(id)), "a diagram of a chart nothing in src/ runs").toEqual([])
  })
})
