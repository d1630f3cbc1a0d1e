/**
 * RFC 6570 URI templates as MCP resource templates use them: simple `{var}`
 * expressions (level 1), plus `{+var}` reserved expansion matching across `/`.
 * Compiled once into a matcher that returns the variables or undefined.
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
    const vars: Record<string, string> = {}
    names.forEach((n, i) => {
      vars[n] = decodeURIComponent(m[i + 1]!)
    })
    return vars
  }
}
