/**
 * RFC 6570 URI templates as MCP resource templates use them: simple `{var}`
 * expressions (level 1), plus `{+var}` reserved expansion matching across `/`.
 * Compiled once into a matcher that returns the variables or undefined.
 *
 * The match is the one the regular expression `^lit(v+?)lit(v+?)…lit$` would find
 * (each variable as short as the rest allows, first to last), computed without
 * backtracking: a template is a peer's (the host serves its upstreams' templates),
 * and `{a}{b}{c}{d}{e}{f}{g}` against a 100-character URI that does not match
 * backtracked for minutes with the event loop blocked. Here a match costs
 * O(URI length × expressions), after one backward pass that marks, for each
 * variable, where the rest of the template can still match.
 */
import { ErrorCode, McpError } from "../protocol/errors.ts"

/**
 * The variables of a matching URI (a null-prototype object: a variable named
 * `constructor` or `__proto__` is an ordinary key), or undefined. Throws -32602
 * when a matched segment has malformed percent-encoding (`%ZZ`): the URI is
 * the client's, so the error is its params', not ours.
 */
export type UriMatcher = (uri: string) => Record<string, string> | undefined

/**
 * A match needs a byte per URI character per expression: beyond this many, a URI does not match
 * (a template of a thousand expressions against a megabyte URI is no resource address).
 */
const MAX_MATCH_CELLS = 1 << 24

/** A literal part with its KMP failure table (its occurrences found in linear time, whatever the peer put in it). */
interface Literal {
  readonly text: string
  readonly fail: Int32Array
}

const literal = (text: string): Literal => {
  const fail = new Int32Array(text.length)
  for (let i = 1, k = 0; i < text.length; i++) {
    while (k > 0 && text.charCodeAt(i) !== text.charCodeAt(k)) k = fail[k - 1]!
    if (text.charCodeAt(i) === text.charCodeAt(k)) k++
    fail[i] = k
  }
  return { text, fail }
}

/** `at[p]` is 1 where `lit` occurs in `s` at `p` (every p for an empty literal). */
const occurrences = (s: string, lit: Literal): Uint8Array => {
  const at = new Uint8Array(s.length + 1)
  const m = lit.text.length
  if (m === 0) return at.fill(1)
  for (let i = 0, k = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    while (k > 0 && c !== lit.text.charCodeAt(k)) k = lit.fail[k - 1]!
    if (c === lit.text.charCodeAt(k)) k++
    if (k === m) {
      at[i - m + 1] = 1
      k = lit.fail[k - 1]!
    }
  }
  return at
}

/** `/`, `?`, `#`: what a simple `{var}` does not match. */
const simpleStops = (c: number): boolean => c === 0x2f || c === 0x3f || c === 0x23
/** Line terminators: what the `.` of `{+var}` / `{#var}` does not match (as the regular expression's did not). */
const lineEnds = (c: number): boolean => c === 0x0a || c === 0x0d || c === 0x2028 || c === 0x2029

export const compileUriTemplate = (template: string): UriMatcher => {
  // lits[0] var[0] lits[1] var[1] … lits[k]: k variables, k + 1 literals (some empty).
  const names: Array<string> = []
  const stops: Array<(c: number) => boolean> = []
  const lits: Array<Literal> = []
  let last = 0
  for (const m of template.matchAll(/\{([+#]?)([A-Za-z0-9_.,]+)\}/g)) {
    lits.push(literal(template.slice(last, m.index)))
    names.push(m[2]!)
    stops.push(m[1] === "+" || m[1] === "#" ? lineEnds : simpleStops)
    last = m.index! + m[0].length
  }
  lits.push(literal(template.slice(last)))
  const k = names.length
  const decoded = (uri: string, raw: string): string => {
    try {
      return decodeURIComponent(raw)
    } catch {
      throw new McpError(ErrorCode.InvalidParams, `Invalid params: malformed percent-encoding in uri (${JSON.stringify(raw)})`, { uri })
    }
  }
  if (k === 1) {
    // One variable (most templates): it is what lies between the two literals, with no stop in it.
    const head = lits[0]!.text
    const tail = lits[1]!.text
    const stop = stops[0]!
    return (uri) => {
      const end = uri.length - tail.length
      if (end <= head.length || !uri.startsWith(head) || !uri.endsWith(tail)) return undefined
      for (let p = head.length; p < end; p++) if (stop(uri.charCodeAt(p))) return undefined
      const vars: Record<string, string> = Object.create(null)
      vars[names[0]!] = decoded(uri, uri.slice(head.length, end))
      return vars
    }
  }
  return (uri) => {
    const n = uri.length
    if (k === 0) return uri === lits[0]!.text ? Object.create(null) as Record<string, string> : undefined
    if ((k + 1) * (n + 1) > MAX_MATCH_CELLS) return undefined
    // after[j][p]: lits[j + 1], var[j + 1], …, lits[k] match uri[p..n) (what may follow var[j] when it ends at p).
    const after: Array<Uint8Array> = new Array(k)
    // from[p]: var[j], lits[j + 1], …, lits[k] match uri[p..n), for the j of the pass.
    let from: Uint8Array | undefined
    for (let j = k - 1; j >= 0; j--) {
      const lit = lits[j + 1]!
      const len = lit.text.length
      const at = occurrences(uri, lit)
      const row = new Uint8Array(n + 1)
      for (let p = 0; p + len <= n; p++) {
        if (at[p] === 1 && (j === k - 1 ? p + len === n : from![p + len] === 1)) row[p] = 1
      }
      after[j] = row
      const stop = stops[j]!
      const next = new Uint8Array(n + 1)
      for (let p = n - 1; p >= 0; p--) {
        if (!stop(uri.charCodeAt(p)) && (row[p + 1] === 1 || next[p + 1] === 1)) next[p] = 1
      }
      from = next
    }
    const head = lits[0]!.text
    if (!uri.startsWith(head) || from![head.length] !== 1) return undefined
    // Forward: each variable as short as the rest allows (the lazy regular expression's first match).
    const vars: Record<string, string> = Object.create(null)
    let p = head.length
    for (let j = 0; j < k; j++) {
      const row = after[j]!
      let end = p + 1
      while (row[end] !== 1) end++
      vars[names[j]!] = decoded(uri, uri.slice(p, end))
      p = end + lits[j + 1]!.text.length
    }
    return vars
  }
}
