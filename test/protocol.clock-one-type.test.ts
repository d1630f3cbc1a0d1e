/**
 * One clock type (issue 13 "One clock"; docs/architecture.md): every timer of the
 * project is typed `Clock` (src/protocol/clock.ts). Aliases of it under other names
 * (`XStateClock` ×4, `HttpClientClock`) made readers look for five types where there
 * is one; only the deprecated `XStateClock` of src/runtime/XStateClock.ts remains,
 * for code that imported it, and nothing in the sources uses it.
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
const sources = () => [...walk(join(root, "src")), ...walk(join(root, "machines")), ...walk(join(root, "examples"))]

describe("one clock type", () => {
  it("no module declares another name for Clock, but the one deprecated alias", () => {
    const aliases: Array<string> = []
    for (const file of sources()) {
      const lines = readFileSync(file, "utf8").split("\n")
      lines.forEach((line, i) => {
        if (/^\s*(export\s+)?type\s+\w+\s*=\s*Clock\s*$/.test(line)) {
          const deprecated = lines.slice(Math.max(0, i - 3), i).some((l) => l.includes("@deprecated"))
          aliases.push(`${relative(root, file)}:${i + 1}${deprecated ? " (deprecated)" : ""}`)
        }
      })
    }
    expect(aliases).toEqual(["src/runtime/XStateClock.ts:25 (deprecated)"])
  })

  it("no source types anything with the deprecated alias or the old HTTP client name", () => {
    const uses = sources().flatMap((file) =>
      readFileSync(file, "utf8").split("\n").flatMap((line, i) =>
        /:\s*(XStateClock|HttpClientClock)\b|<(XStateClock|HttpClientClock)>/.test(line) ? [`${relative(root, file)}:${i + 1}`] : []
      )
    )
    expect(uses).toEqual([])
  })
})
