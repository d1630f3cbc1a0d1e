/**
 * Who restarts a host's upstream (docs/architecture.md "Restarts: one loop and one
 * policy"): its `serverConnection` chart, alone. The runtime's `Supervisor` owns
 * scopes and registry entries and never re-opens anything; the Effect restart loop
 * `supervise` (src/runtime/supervise.ts) serves `superviseClient` /
 * `runSupervisedClient`, standalone clients outside a host. This keeps it so: no
 * module the host runs can reach that loop, so an upstream can never be restarted
 * by a fiber and by its chart at once.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const walk = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? walk(p) : p.endsWith(".ts") ? [p] : []
  })

/** Every module `entries` reach through static imports (type-only ones too: they name the dependency). */
const reachable = (entries: ReadonlyArray<string>): Map<string, string> => {
  const via = new Map<string, string>() // module → the module that imported it first
  const queue = [...entries]
  for (const e of entries) via.set(e, "(entry)")
  while (queue.length > 0) {
    const file = queue.shift()!
    const text = readFileSync(file, "utf8")
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+\.ts)"/g)) {
      const target = resolve(dirname(file), m[1]!)
      if (!via.has(target)) {
        via.set(target, file)
        queue.push(target)
      }
    }
  }
  return via
}

const LOOPS = ["src/runtime/supervise.ts", "src/client/superviseClient.ts"]

describe("one restart owner for a host's upstreams", () => {
  it("no module of the host reaches the Effect restart loop (supervise / superviseClient): the chart is the only one", () => {
    const host = walk(join(root, "src/host"))
    expect(host.length).toBeGreaterThan(5)
    const via = reachable(host)
    expect(via.size).toBeGreaterThan(host.length) // it follows imports at all
    const chain = (file: string): string => {
      const path: Array<string> = []
      for (let f: string | undefined = file; f !== undefined && f !== "(entry)"; f = via.get(f)) path.unshift(relative(root, f))
      return path.join(" → ")
    }
    expect(LOOPS.map((l) => join(root, l)).filter((l) => via.has(l)).map(chain)).toEqual([])
    // The host's restart policy is the chart's: the generation's opener imports it, and nothing else loops.
    expect(via.has(join(root, "machines/serverConnection.ts"))).toBe(true)
  })

  it("the Supervisor has no restart of its own: it never calls the restart policy", () => {
    const text = readFileSync(join(root, "src/runtime/Supervisor.ts"), "utf8")
    expect(text).not.toMatch(/decideRestart|RestartPolicy|Schedule\b|Effect\.retry|Effect\.repeat/)
  })
})
