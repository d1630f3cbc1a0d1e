/**
 * RFC 6570 URI templates as MCP resource templates use them: simple `{var}`
 * expressions (level 1), plus `{+var}` reserved expansion matching across `/`.
 * Compiled once into a matcher that returns the variables or undefined.
 */
import { ErrorCode, McpError } from "../protocol/errors.ts"

/**
 * The variables of a matching URI (a null-prototype object: a variable named
 * `constructor` or `__proto__` is an ordinary key), or undefined. Throws -32602
 * when a matched segment has malformed percent-encoding (`%ZZ`): the URI is
 * the client's, so the error is its params', not ours.
 */
export type UriMatcher = (uri: string) => Record<string, string> | undefined

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

export const compileUriTemplate = (template: string): UriMatcher => {
  const names: Array<string> = []
  let pattern = "^"
  let last = 0
  for (const m of template.matchAll(/\{([+#]?)([A-Za-z0-9_.,]+)\}/g)) {
    pattern += escape(template.slice(last, m.index))
    names.push(m[2]!)
    pattern += m[1] === "+" || m[1] === "#" ? "(.+?)" : "([^/?#]+?)"
    last = m.index! + m[0].length
  }
  pattern += escape(template.slice(last)) + "$"
  const re = new RegExp(pattern)
  return (uri) => {
    const m = re.exec(uri)
    if (!m) return undefined
    const vars: Record<string, string> = Object.create(null)
    for (let i = 0; i < names.length; i++) {
      const raw = m[i + 1]!
      try {
        vars[names[i]!] = decodeURIComponent(raw)
      } catch {
        throw new McpError(ErrorCode.InvalidParams, `Invalid params: malformed percent-encoding in uri (${JSON.stringify(raw)})`, { uri })
      }
    }
    return vars
  }
}
