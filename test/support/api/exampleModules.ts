/**
 * The `@example` blocks of the API reference as TypeScript modules that import
 * the sources instead of the package, so a test can typecheck every example
 * against the code it documents (a stale example fails the suite).
 */
import { resolve } from "node:path"
import type { ApiEntry } from "./extractApi.ts"

/** The code of an `@example`: the first ```ts fence, or the whole body when it has none. */
export const exampleCode = (example: string): string => {
  const fenced = /```(?:ts|typescript)\n([\s\S]*?)\n\s*```/.exec(example)
  return (fenced?.[1] ?? example).trim()
}

/**
 * One module per example, named `<entry>.<export>.<n>.ts`; imports of the
 * package's entry points are rewritten to absolute paths of their sources.
 */
export const exampleModules = (apis: ReadonlyArray<ApiEntry>, root: string): ReadonlyArray<readonly [string, string]> => {
  const sourceOf = new Map(apis.map((a) => [a.entry.specifier, resolve(root, a.entry.source)]))
  const rewrite = (code: string) =>
    code.replace(/(from\s+|import\s*\(\s*)"(mcp-actors(?:\/[a-z]+)?)"/g, (m, lead: string, spec: string) => {
      const path = sourceOf.get(spec)
      return path === undefined ? m : `${lead}${JSON.stringify(path)}`
    })
  return apis.flatMap((a) =>
    a.exports.flatMap((e) =>
      e.examples.map((ex, i) => [`${a.entry.page.replace(/\.md$/, "")}.${e.name}.${i + 1}.ts`, `${rewrite(exampleCode(ex))}\nexport {}\n`] as const)
    )
  )
}
