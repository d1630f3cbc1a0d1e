/**
 * Middleware between a request and its handler: the seam the policy gateway
 * plugs into (`new McpServer({ …, guard })` or `server.guard = …`).
 *
 * `admit` runs before `tools/call`, `resources/read`, `prompts/get` and a legacy
 * `resources/subscribe` reach their handler (before the tool is even looked up: a denied caller learns
 * nothing about what exists), and for each resource URI of a modern `subscriptions/listen` before it
 * is acknowledged. It throws an McpError to refuse, returns an
 * {@link Admission} (or a Promise of one, e.g. while an approval is pending)
 * to let the call run; the admission hears how the call ended. `filter`
 * removes list entries this caller may not see.
 */
import type { RequestContext } from "./RequestContext.ts"

export type GuardedKind = "tool" | "resource" | "prompt"

/** The call a guard decides on, before its handler is looked up. */
export interface GuardedCall {
  /**
   * `resources/subscribe`, and each resource URI of a modern `subscriptions/listen`: a guard decides
   * them as a read of the URI (what may not be read may not be watched).
   */
  readonly method: "tools/call" | "resources/read" | "prompts/get" | "resources/subscribe" | "subscriptions/listen"
  readonly kind: GuardedKind
  /** Tool or prompt name, resource URI. */
  readonly name: string
  readonly args: { readonly [key: string]: unknown } | undefined
}

/** How an admitted call ended, so the guard can audit it and settle an approval. */
export interface CallOutcome {
  /** "ok", a tool error result (`isError`), a protocol error, or input_required (MRTR: the call will be retried). */
  readonly outcome: "ok" | "toolError" | "error" | "inputRequired"
  readonly error?: string
}

/** Permission for one call to run, which hears once how the call ended. */
export interface Admission {
  /** The call ended (exactly once). */
  done(outcome: CallOutcome): void
}

/** The list methods whose results a guard filters for the caller. */
export type ListKind = "tools" | "resources" | "resourceTemplates" | "prompts"

/** Middleware that admits or refuses guarded calls and filters list results per caller (the policy gateway's seam, see `policyGuard`). */
export interface CallGuard {
  admit(call: GuardedCall, ctx: RequestContext): Admission | undefined | PromiseLike<Admission | undefined>
  /** Keep only what `ctx`'s caller may see; `nameOf` gives an entry's name (URI for resources). */
  filter<T>(kind: ListKind, items: ReadonlyArray<T>, nameOf: (item: T) => string, ctx: RequestContext): ReadonlyArray<T>
}
