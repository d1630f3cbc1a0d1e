/**
 * Roots the host gives its upstream servers (`roots/list`, MCP "Roots"). A
 * server asks whenever it likes, not only inside a call (an SDK server asks
 * right after `initialized`), so the host answers from its roots sources: the
 * roots given to `startHost` / `setRoots`, and whatever a gateway adds (the
 * roots of its downstream clients that declared them). The answer is their
 * union by uri; a source that fails or is slow is left out.
 */
import { type Clock, unrefTimer } from "../protocol/clock.ts"

/** One root, as `roots/list` carries it. */
export interface Root {
  readonly uri: string
  readonly name?: string
  readonly _meta?: { readonly [key: string]: unknown }
}

/** Roots for one upstream server (by its configured name). */
export type RootsSource = (server: string) => ReadonlyArray<Root> | PromiseLike<ReadonlyArray<Root>>

/** How long a `roots/list` from upstream waits for each source. */
export const ROOTS_SOURCE_TIMEOUT_MS = 5_000

/** A `roots` array from the wire, kept only where each item has a string `uri`. */
export const rootsOf = (result: unknown): ReadonlyArray<Root> => {
  const roots = (result as { roots?: unknown } | undefined)?.roots
  return Array.isArray(roots) ? roots.filter((r): r is Root => typeof r === "object" && r !== null && typeof (r as Root).uri === "string") : []
}

/** The union by uri (the first source naming a uri wins), in source order. */
export const unionRoots = (lists: ReadonlyArray<ReadonlyArray<Root>>): Array<Root> => {
  const seen = new Set<string>()
  const out: Array<Root> = []
  for (const list of lists) {
    for (const r of list) {
      if (seen.has(r.uri)) continue
      seen.add(r.uri)
      out.push(r)
    }
  }
  return out
}

/** Ask every source at once; one that throws or takes longer than `timeoutMs` (on `clock`) counts as none. */
export const gatherRoots = async (sources: Iterable<RootsSource>, server: string, clock: Clock, timeoutMs = ROOTS_SOURCE_TIMEOUT_MS): Promise<Array<Root>> => {
  const asks = [...sources].map((source) => {
    let timer: unknown
    const late = new Promise<ReadonlyArray<Root>>((resolve) => (timer = unrefTimer(clock.setTimeout(() => resolve([]), timeoutMs))))
    const answer = Promise.resolve().then(() => source(server)).then((r) => (Array.isArray(r) ? rootsOf({ roots: r }) : []), () => [])
    return Promise.race([answer, late]).finally(() => clock.clearTimeout(timer))
  })
  return unionRoots(await Promise.all(asks))
}
