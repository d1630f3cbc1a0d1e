/**
 * API keys for small setups: a JSON or YAML file listing keys (or their
 * SHA-256, so the file need not hold secrets) with the identity each stands for.
 *
 * ```yaml
 * keys:
 *   - name: ci-bot            # the principal id
 *     sha256: 9f86d08…        # or `key: plain-secret`
 *     groups: [automation]
 *     scopes: [tools:read]
 * ```
 * Lookups hash the presented key first, so comparing never touches the secret
 * byte by byte (no timing oracle on it).
 */
import { hash } from "node:crypto"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import type { Identity } from "./Identity.ts"

/** One API key (`key`, or its `sha256` so the file holds no secret) and the identity it stands for: `name` is the principal id. */
export interface ApiKeyEntry {
  readonly name: string
  readonly key?: string
  readonly sha256?: string
  readonly groups?: ReadonlyArray<string>
  readonly scopes?: ReadonlyArray<string>
  readonly attributes?: { readonly [key: string]: unknown }
}

const sha256 = (s: string): string => hash("sha256", s, "hex")

/** API keys by their hash, so a lookup never compares the secret byte by byte. */
export interface ApiKeyTable {
  /** The identity a key stands for, or undefined. */
  lookup(key: string): Identity | undefined
  readonly size: number
}

/** Build the table, throwing on an entry without a name or a usable key, so a bad key file fails at start-up. */
export const makeApiKeyTable = (entries: ReadonlyArray<ApiKeyEntry>): ApiKeyTable => {
  const byHash = new Map<string, Identity>()
  for (const [i, e] of entries.entries()) {
    if (typeof e?.name !== "string" || e.name.length === 0) throw new TypeError(`API key #${i + 1}: "name" is required`)
    const hash = typeof e.sha256 === "string" ? e.sha256.toLowerCase() : typeof e.key === "string" ? sha256(e.key) : undefined
    if (hash === undefined || !/^[0-9a-f]{64}$/.test(hash)) throw new TypeError(`API key "${e.name}": give "key" or a hex "sha256"`)
    byHash.set(hash, {
      id: e.name,
      subject: e.name,
      groups: [...(e.groups ?? [])],
      scopes: [...(e.scopes ?? [])],
      claims: { ...e.attributes, sub: e.name },
      via: "apiKey"
    })
  }
  return { lookup: (key) => byHash.get(sha256(key)), size: byHash.size }
}

/** Load a key table from a `.json`, `.yaml` or `.yml` file (`{ keys: [...] }` or a bare list). */
export const loadApiKeyTable = (path: string): ApiKeyTable => {
  const text = readFileSync(path, "utf8")
  // yaml is loaded only for YAML files (kept off `import "mcp-actors"`).
  const doc = path.endsWith(".json") ? JSON.parse(text) as unknown : (createRequire(import.meta.url)("yaml") as typeof import("yaml")).parse(text) as unknown
  const list = Array.isArray(doc) ? doc : (doc as { keys?: unknown } | null)?.keys
  if (!Array.isArray(list)) throw new TypeError(`${path}: expected a list of keys or { keys: [...] }`)
  return makeApiKeyTable(list as ReadonlyArray<ApiKeyEntry>)
}
