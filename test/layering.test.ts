import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

// Dependencies flow one way (README, "Layout"): protocol → machines, transports →
// runtime → policy → server, client, host → cli, examples. Nothing imports upward — not even a type.
// Beside them: visualization (charts → Mermaid/DOT, over machines) and inspect (the live inspector, over the
// runtime and visualization), which the APIs may use and which use no API module.
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const layerOf = (file: string): string | undefined => {
  const r = relative(root, file)
  if (r.startsWith("src/protocol/")) return "protocol"
  if (r.startsWith("machines/")) return "machines"
  if (r.startsWith("src/transports/")) return "transports"
  if (r.startsWith("src/runtime/")) return "runtime"
  if (r.startsWith("src/policy/")) return "policy"
  if (r.startsWith("src/server/") || r.startsWith("src/client/") || r.startsWith("src/host/")) return "api"
  if (r.startsWith("src/visualization/")) return "visualization"
  if (r.startsWith("src/inspect/")) return "inspect"
  // Telemetry observes server and client sessions (their request contexts), and both call into it.
  if (r.startsWith("src/observability/")) return "api"
  if (r.startsWith("src/cli/") || r.startsWith("examples/") || r === "src/index.ts" || r === "src/effect.ts") return "top"
  return undefined
}
const allowed: Record<string, ReadonlyArray<string>> = {
  protocol: ["protocol"],
  machines: ["protocol", "machines"],
  transports: ["protocol", "machines", "transports"],
  runtime: ["protocol", "machines", "transports", "runtime"],
  // The policy gateway (identity, Cedar, audit, approvals) serves both McpServer and the host.
  policy: ["protocol", "machines", "transports", "runtime", "policy"],
  visualization: ["protocol", "machines", "visualization"],
  inspect: ["protocol", "machines", "transports", "runtime", "visualization", "inspect"],
  api: ["protocol", "machines", "transports", "runtime", "policy", "visualization", "inspect", "api"],
  top: ["protocol", "machines", "transports", "runtime", "policy", "visualization", "inspect", "api", "top"]
}
const walk = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? walk(p) : p.endsWith(".ts") ? [p] : []
  })

describe("layering", () => {
  it("no module imports from a layer above its own", () => {
    const violations: Array<string> = []
    const files = [...walk(join(root, "src")), ...walk(join(root, "machines")), ...walk(join(root, "examples"))]
    expect(files.length).toBeGreaterThan(40)
    for (const file of files) {
      const from = layerOf(file)
      if (from === undefined) continue
      const text = readFileSync(file, "utf8")
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
        const to = layerOf(resolve(dirname(file), m[1]!))
        if (to !== undefined && !allowed[from]!.includes(to)) violations.push(`${relative(root, file)} (${from}) imports ${m[1]} (${to})`)
      }
    }
    expect(violations).toEqual([])
  })
})
