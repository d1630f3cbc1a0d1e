/**
 * `npm run docs:api`: regenerates the API reference in `docs/api/` from the
 * doc comments, removing pages of entry points that no longer exist.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { extractApi, repoRoot } from "./extractApi.ts"
import { renderApiReference } from "./renderApiReference.ts"

const started = performance.now()
const dir = join(repoRoot, "docs/api")
mkdirSync(dir, { recursive: true })
const files = renderApiReference(extractApi())
const keep = new Set(files.map(([name]) => name))
for (const name of readdirSync(dir)) if (name.endsWith(".md") && !keep.has(name)) rmSync(join(dir, name))
for (const [name, text] of files) writeFileSync(join(dir, name), text)
const exports = files.length - 1
console.log(`docs/api: ${files.length} files (${exports} entry points) in ${Math.round(performance.now() - started)} ms`)
