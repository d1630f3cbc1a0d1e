/**
 * The host's catalog: tools, resources, resource templates and prompts of
 * every server, under one namespace. Pure functions over the servers' last
 * listings; the host rebuilds it when a listing or a server's health changes.
 *
 * Naming (`collisions`):
 * - `prefix` (default): `<toolPrefix><separator><name>` (`server__tool`; a tool
 *   name's characters outside SEP-986 as `_`; the original name for `toolPrefix: ""`); if
 *   two servers still produce the same name (same `toolPrefix`), the first in
 *   config order keeps it and the other is reported; a name a server gets under its
 *   own prefix is its own: an unprefixed server listing it (`good__echo`) is reported,
 *   whatever the config order;
 * - `first-wins`: original names; on a clash the first server keeps the name,
 *   the later entry is left out and reported;
 * - `error`: original names; a clashing name is left out for every server
 *   that has it, and reported as an error.
 * Resources keep their URIs (a URI is an address, not a name); a URI served by
 * two servers goes to the first and is reported. Prompts are named like tools.
 *
 * Health gating is the caller's: it passes only the servers whose entries are
 * advertised (ready, degraded, or lazy-idle with a last known listing).
 */
import { hash } from "node:crypto"
import { isObject } from "../protocol/jsonrpc.ts"
import type { PromptDefinition, ResourceDefinition, ResourceTemplateDefinition, ToolDefinition } from "../server/types.ts"
import { compileUriTemplate, type UriMatcher } from "../server/uriTemplate.ts"
import type { CollisionPolicy } from "./config.ts"

/** One server's listing (as returned by its `*\/list` requests). */
export interface ServerListing {
  readonly tools: ReadonlyArray<ToolDefinition>
  readonly resources: ReadonlyArray<ResourceDefinition>
  readonly resourceTemplates: ReadonlyArray<ResourceTemplateDefinition>
  readonly prompts: ReadonlyArray<PromptDefinition>
}

export const emptyListing: ServerListing = { tools: [], resources: [], resourceTemplates: [], prompts: [] }

export interface CatalogSource {
  readonly server: string
  readonly toolPrefix: string
  readonly allowedTools: ReadonlyArray<string> | undefined
  readonly blockedTools: ReadonlyArray<string>
  readonly listing: ServerListing
}

/** One advertised item and where it comes from, so a call under the host's name reaches the server under the original one. */
export interface CatalogEntry<D> {
  readonly server: string
  /** The name (or URI) on the server. */
  readonly original: string
  /** The definition as advertised by the host (renamed). */
  readonly definition: D
}

/** A name (or URI) two servers claim, and how `collisions` resolved it; reported rather than silently shadowed. */
export interface Collision {
  readonly kind: "tool" | "prompt" | "resource"
  readonly name: string
  /** The server that keeps the name, if any (none under `error`). */
  readonly kept: string | undefined
  readonly dropped: ReadonlyArray<string>
}

/** The aggregated, namespaced catalog of the advertised servers, with the collisions found building it. */
export interface Catalog {
  readonly tools: ReadonlyMap<string, CatalogEntry<ToolDefinition>>
  readonly prompts: ReadonlyMap<string, CatalogEntry<PromptDefinition>>
  readonly resources: ReadonlyMap<string, CatalogEntry<ResourceDefinition>>
  readonly resourceTemplates: ReadonlyArray<CatalogEntry<ResourceTemplateDefinition> & { readonly match: UriMatcher }>
  readonly collisions: ReadonlyArray<Collision>
}

/** At most this many entries of one kind are kept from one server's listing (the rest are reported). */
export const MAX_LISTING_ENTRIES = 10_000

export type ListingKey = keyof ServerListing

const hasString = (v: Record<string, unknown>, key: string): boolean => typeof v[key] === "string" && v[key] !== ""

/** What an accepted entry is known by: a tool's or prompt's name, a resource's URI, a template's URI template. */
const entryId = (key: ListingKey, entry: Record<string, unknown>): string =>
  (key === "resources" ? entry.uri : key === "resourceTemplates" ? entry.uriTemplate : entry.name) as string

// ---- the spec's types of a listing entry's optional fields (as an SDK client checks them) ----

type Ok = (v: unknown) => boolean
const isString: Ok = (v) => typeof v === "string"
const isBoolean: Ok = (v) => typeof v === "boolean"
const arrayOf = (ok: Ok): Ok => (v) => Array.isArray(v) && v.every(ok)
const optional = (v: unknown, ok: Ok): boolean => v === undefined || ok(v)
const oneOf = (...values: ReadonlyArray<string>): Ok => (v) => typeof v === "string" && values.includes(v)
/** A JSON Schema for an object: `type: "object"`, its `properties` objects, its `required` names. */
const objectSchema: Ok = (v) =>
  isObject(v) && v.type === "object" &&
  optional(v.properties, (p) => isObject(p) && Object.values(p).every((s) => typeof s === "object" && s !== null)) &&
  optional(v.required, arrayOf(isString))
const icon: Ok = (v) =>
  isObject(v) && isString(v.src) && optional(v.mimeType, isString) && optional(v.sizes, arrayOf(isString)) && optional(v.theme, oneOf("light", "dark"))
const toolAnnotations: Ok = (v) =>
  isObject(v) && optional(v.title, isString) &&
  ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"].every((hint) => optional(v[hint], isBoolean))
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/
/** An RFC 3339 date-time with seconds and an offset, of a day that exists. */
const isDateTime: Ok = (v) => {
  const m = typeof v === "string" ? DATE_TIME.exec(v) : null
  if (m === null) return false
  const day = new Date(0)
  day.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]))
  return day.getUTCMonth() === Number(m[2]) - 1 && day.getUTCDate() === Number(m[3])
}
const annotations: Ok = (v) =>
  isObject(v) && optional(v.audience, arrayOf(oneOf("user", "assistant"))) &&
  optional(v.priority, (p) => typeof p === "number" && p >= 0 && p <= 1) && optional(v.lastModified, isDateTime)
const promptArgument: Ok = (v) => isObject(v) && isString(v.name) && optional(v.title, isString) && optional(v.description, isString) && optional(v.required, isBoolean)

/** Each kind's optional fields: name, check, what it must be. */
type FieldCheck = readonly [field: string, ok: Ok, what: string]
const common: ReadonlyArray<FieldCheck> = [["title", isString, "a string"], ["description", isString, "a string"], ["icons", arrayOf(icon), "an array of icons"], ["_meta", isObject, "an object"]]
const OPTIONAL_FIELDS: { readonly [K in ListingKey]: ReadonlyArray<FieldCheck> } = {
  tools: [...common, ["outputSchema", objectSchema, "an object schema"], ["annotations", toolAnnotations, "tool annotations"], ["execution", (v) => isObject(v) && optional(v.taskSupport, oneOf("forbidden", "optional", "required")), "an execution object"]],
  prompts: [...common, ["arguments", arrayOf(promptArgument), "an array of prompt arguments"]],
  resources: [...common, ["mimeType", isString, "a string"], ["annotations", annotations, "annotations"], ["size", (v) => typeof v === "number", "a number"]],
  resourceTemplates: [...common, ["mimeType", isString, "a string"], ["annotations", annotations, "annotations"]]
}
const KIND_LABEL: { readonly [K in ListingKey]: string } = { tools: "tool", prompts: "prompt", resources: "resource", resourceTemplates: "resource template" }

/**
 * Why a server's listing entry cannot be advertised, or undefined when it can. The host
 * re-serves entries to its own clients, whose SDKs validate a whole list at once (the official
 * SDK's `listTools` rejects it all for one `description: 42`): one malformed entry from one
 * server must not make the aggregated list unreadable (nor throw in the catalog code), so it is
 * left out at the boundary: its required fields, and its optional ones of the spec's types.
 */
export const listingEntryProblem = (key: ListingKey, entry: unknown): string | undefined => {
  if (!isObject(entry)) return "not an object"
  if (key === "resources" && !(hasString(entry, "uri") && hasString(entry, "name"))) return "no string uri and name"
  if (key === "resourceTemplates" && !(hasString(entry, "uriTemplate") && hasString(entry, "name"))) return "no string uriTemplate and name"
  if (!hasString(entry, "name")) return "no string name"
  // The name is the peer's: only its start goes into a report that the host keeps.
  const named = `${KIND_LABEL[key]} ${JSON.stringify(entryId(key, entry).slice(0, 100))}`
  if (key === "tools" && !objectSchema(entry.inputSchema)) return `${named}: inputSchema is not an object schema`
  for (const [field, ok, what] of OPTIONAL_FIELDS[key]) {
    if (!optional(entry[field], ok)) return `${named}: ${field} is not ${what}`
  }
  return undefined
}

/**
 * The entries of one kind the host keeps from a server's list results, and what it left out and why.
 * An entry known by the same name (URI) as one kept before (`seen`: across the pages of one listing)
 * is left out: every consumer then sees the first (the catalog kept the first, the gateway's
 * `/mcp/<server>` the last).
 */
export const acceptListingEntries = (key: ListingKey, entries: ReadonlyArray<unknown>, seen: Set<string> = new Set()): { readonly kept: Array<unknown>; readonly problems: Array<string> } => {
  const kept: Array<unknown> = []
  const problems: Array<string> = []
  for (const entry of entries) {
    const problem = listingEntryProblem(key, entry)
    if (problem !== undefined) problems.push(`${key}: ${problem}`)
    else if (seen.has(entryId(key, entry as Record<string, unknown>))) problems.push(`${key}: ${JSON.stringify(entryId(key, entry as Record<string, unknown>).slice(0, 100))} listed more than once, the first kept`)
    else if (kept.length < MAX_LISTING_ENTRIES) {
      seen.add(entryId(key, entry as Record<string, unknown>))
      kept.push(entry)
    } else {
      problems.push(`${key}: more than ${MAX_LISTING_ENTRIES} entries, the rest left out`)
      break
    }
  }
  return { kept, problems }
}

/** A stable hash of a listing: changes iff a definition changed (order of entries does not matter). */
export const listingHash = (listing: ServerListing): string => {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : typeof v === "object" && v !== null
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]))
      : v
  const byKey = <A>(xs: ReadonlyArray<A>, key: (a: A) => string) => [...xs].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
  const text = JSON.stringify(canonical({
    tools: byKey(listing.tools, (t) => t.name),
    resources: byKey(listing.resources, (r) => r.uri),
    resourceTemplates: byKey(listing.resourceTemplates, (r) => r.uriTemplate),
    prompts: byKey(listing.prompts, (p) => p.name)
  }))
  return hash("sha256", text, "hex").slice(0, 16)
}

/** What changed between two listings of one server (names). */
export interface ListingDiff {
  readonly added: ReadonlyArray<string>
  readonly removed: ReadonlyArray<string>
  readonly changed: ReadonlyArray<string>
}

export const diffListings = (before: ServerListing, after: ServerListing): ListingDiff => {
  const flatten = (l: ServerListing) =>
    new Map<string, string>([
      ...l.tools.map((t) => [`tool:${t.name}`, JSON.stringify(t)] as const),
      ...l.prompts.map((p) => [`prompt:${p.name}`, JSON.stringify(p)] as const),
      ...l.resources.map((r) => [`resource:${r.uri}`, JSON.stringify(r)] as const),
      ...l.resourceTemplates.map((r) => [`template:${r.uriTemplate}`, JSON.stringify(r)] as const)
    ])
  const a = flatten(before)
  const b = flatten(after)
  return {
    added: [...b.keys()].filter((k) => !a.has(k)),
    removed: [...a.keys()].filter((k) => !b.has(k)),
    changed: [...b.keys()].filter((k) => a.has(k) && a.get(k) !== b.get(k))
  }
}

/** A tool name with what SEP-986 keeps out of tool names (a space, `/`, …) as `_` (`config.ts` makes default prefixes so). */
const sep986Chars = (name: string): string => name.replace(/[^A-Za-z0-9_.-]/g, "_")

const toolVisible = (source: CatalogSource, name: string): boolean =>
  (source.allowedTools === undefined || source.allowedTools.includes(name)) && !source.blockedTools.includes(name)

/** Name entries under the policy; returns the winners by exposed name and the collisions. */
const nameEntries = <D extends { readonly name: string }>(
  kind: "tool" | "prompt",
  sources: ReadonlyArray<CatalogSource>,
  pick: (s: CatalogSource) => ReadonlyArray<D>,
  separator: string,
  policy: CollisionPolicy
): { readonly map: Map<string, CatalogEntry<D>>; readonly collisions: Array<Collision> } => {
  const claims = new Map<string, Array<CatalogEntry<D>>>()
  // The claims made under their server's own prefix: such a name is in that server's namespace, which an
  // unprefixed server's entry of the same name (a peer's choice) must not take over.
  const ownNamespace = new Set<CatalogEntry<D>>()
  for (const source of sources) {
    for (const def of pick(source)) {
      if (kind === "tool" && !toolVisible(source, def.name)) continue
      // `toolPrefix: ""` means no prefix (not `__tool`). A prefixed tool name is the host's own: it
      // holds only what SEP-986 allows (as the default prefix does); the call reaches `original`.
      const exposed = policy === "prefix" && source.toolPrefix !== ""
        ? `${source.toolPrefix}${separator}${kind === "tool" ? sep986Chars(def.name) : def.name}`
        : def.name
      const list = claims.get(exposed) ?? []
      // One server listing a name twice: keep its first.
      if (!list.some((e) => e.server === source.server)) {
        const entry = { server: source.server, original: def.name, definition: { ...def, name: exposed } }
        list.push(entry)
        if (policy === "prefix" && source.toolPrefix !== "") ownNamespace.add(entry)
      }
      claims.set(exposed, list)
    }
  }
  const map = new Map<string, CatalogEntry<D>>()
  const collisions: Array<Collision> = []
  for (const [name, list] of claims) {
    if (list.length === 1) {
      map.set(name, list[0]!)
      continue
    }
    if (policy === "error") {
      collisions.push({ kind, name, kept: undefined, dropped: list.map((e) => e.server) })
    } else {
      const kept = list.find((e) => ownNamespace.has(e)) ?? list[0]!
      map.set(name, kept)
      collisions.push({ kind, name, kept: kept.server, dropped: list.filter((e) => e !== kept).map((e) => e.server) })
    }
  }
  return { map, collisions }
}

export const buildCatalog = (
  sources: ReadonlyArray<CatalogSource>,
  options: { readonly separator: string; readonly collisions: CollisionPolicy }
): Catalog => {
  const tools = nameEntries("tool", sources, (s) => s.listing.tools, options.separator, options.collisions)
  const prompts = nameEntries("prompt", sources, (s) => s.listing.prompts, options.separator, options.collisions)
  const resources = new Map<string, CatalogEntry<ResourceDefinition>>()
  const collisions: Array<Collision> = [...tools.collisions, ...prompts.collisions]
  const resourceDrops = new Map<string, Array<string>>()
  for (const source of sources) {
    for (const r of source.listing.resources) {
      const owner = resources.get(r.uri)
      if (owner === undefined) resources.set(r.uri, { server: source.server, original: r.uri, definition: r })
      else if (owner.server !== source.server) resourceDrops.set(r.uri, [...(resourceDrops.get(r.uri) ?? []), source.server])
    }
  }
  for (const [uri, dropped] of resourceDrops) collisions.push({ kind: "resource", name: uri, kept: resources.get(uri)!.server, dropped })
  const resourceTemplates: Array<CatalogEntry<ResourceTemplateDefinition> & { readonly match: UriMatcher }> = []
  for (const source of sources) {
    for (const t of source.listing.resourceTemplates) {
      let match: UriMatcher
      try {
        match = compileUriTemplate(t.uriTemplate)
      } catch {
        continue // a template we cannot match cannot be routed
      }
      resourceTemplates.push({ server: source.server, original: t.uriTemplate, definition: t, match })
    }
  }
  return { tools: tools.map, prompts: prompts.map, resources, resourceTemplates, collisions }
}

/** The server that serves `uri`: a listed resource first, then the first matching template. */
export const resourceOwner = (catalog: Catalog, uri: string): string | undefined => {
  const exact = catalog.resources.get(uri)
  if (exact !== undefined) return exact.server
  for (const t of catalog.resourceTemplates) if (t.match(uri) !== undefined) return t.server
  return undefined
}

/** A listing's resource templates, compiled once per listing (a listing is replaced, never changed). */
const templateMatchers = new WeakMap<ServerListing, ReadonlyArray<UriMatcher>>()
const matchersOf = (listing: ServerListing): ReadonlyArray<UriMatcher> => {
  let out = templateMatchers.get(listing)
  if (out === undefined) {
    out = listing.resourceTemplates.flatMap((t) => {
      try {
        return [compileUriTemplate(t.uriTemplate)]
      } catch {
        return [] // a template we cannot parse is not served
      }
    })
    templateMatchers.set(listing, out)
  }
  return out
}

/** Whether one upstream's last listing (kept while it restarts) has the entry, under its original name. */
export const listingKnows = (listing: ServerListing | undefined, kind: "tool" | "prompt" | "resource", name: string): boolean => {
  if (listing === undefined) return false
  switch (kind) {
    case "tool":
      return listing.tools.some((t) => t.name === name)
    case "prompt":
      return listing.prompts.some((p) => p.name === name)
    case "resource":
      return listing.resources.some((r) => r.uri === name) || matchersOf(listing).some((m) => m(name) !== undefined)
  }
}
