/**
 * Request id allocation. Ids are never null and never reused while a request
 * is in flight (legacy: unique per session and direction; modern: unique among
 * the sender's in-flight requests). A per-session counter satisfies both.
 */
export interface IdAllocator {
  readonly next: () => number
}

export const makeIdAllocator = (start = 0): IdAllocator => {
  let n = start
  return { next: () => ++n }
}
