/**
 * A request's target, read without throwing. Why: node's HTTP parser passes on
 * targets that are no URL (`//[`, whose host part is no host), and `new URL`
 * throws on them; so does `decodeURIComponent` on a malformed escape
 * (`%E0%A4%A`). A throw in a request or upgrade listener ends the process, so a
 * hostile target must become a 400, not an exception.
 */

/** The target as a URL against `base`, or undefined when it is none. */
export const requestUrl = (target: string | undefined, base: string): URL | undefined => {
  try {
    return new URL(target ?? "/", base)
  } catch {
    return undefined
  }
}

/** A percent-encoded path segment decoded, or undefined when an escape in it is malformed. */
export const decodeSegment = (segment: string): string | undefined => {
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}
