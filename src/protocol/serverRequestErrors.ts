/**
 * Typed errors of the requests a *server* sends to its client (sampling,
 * elicitation, roots), in the same family as the client's errors
 * (`requestErrors.ts`): `Schema.TaggedError` classes, so the Effect API can
 * `catchTag` them and Promise users get a plain `Error` with a message.
 *
 * Named from the server's side so they cannot be confused with the client's:
 * the client's `CapabilityNotSupported` is "the *server* did not advertise it",
 * `ClientCapabilityNotDeclared` is "the *client* did not declare it"; the
 * client's `RequestTimeout` is "the server did not answer", `ClientResponseTimeout`
 * is "the client did not answer". Both are local failures, so neither carries a
 * JSON-RPC code (2026-07-28/basic/index.mdx:L146-L151).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/** A server→client request was not sent: the client did not declare the capability it needs. */
export class ClientCapabilityNotDeclared extends Schema.TaggedError<ClientCapabilityNotDeclared>()("ClientCapabilityNotDeclared", {
  method: Schema.String,
  /** The capability (`sampling`, `elicitation`, `elicitation.url`, `roots`). */
  capability: Schema.String,
  message: Schema.String
}) {
  static of(capability: string, method: string): ClientCapabilityNotDeclared {
    return new ClientCapabilityNotDeclared({ method, capability, message: `Client did not negotiate the "${capability}" capability required by ${method}` })
  }
}

/** A server→client request got no answer in time; `notifications/cancelled` was sent. */
export class ClientResponseTimeout extends Schema.TaggedError<ClientResponseTimeout>()("ClientResponseTimeout", {
  method: Schema.String,
  afterMs: Schema.Number,
  message: Schema.String
}) {
  static of(method: string, afterMs: number): ClientResponseTimeout {
    return new ClientResponseTimeout({ method, afterMs, message: `${method} timed out after ${afterMs} ms` })
  }
}

/**
 * The old name of {@link ClientCapabilityNotDeclared} (the client's `CapabilityNotSupported` is the other direction).
 * @deprecated Use ClientCapabilityNotDeclared.
 */
export const CapabilityError = ClientCapabilityNotDeclared
/**
 * The old name of {@link ClientCapabilityNotDeclared}.
 * @deprecated Use ClientCapabilityNotDeclared.
 */
export type CapabilityError = ClientCapabilityNotDeclared
/**
 * The old name of {@link ClientResponseTimeout} (the client's `RequestTimeout` is the other direction).
 * @deprecated Use ClientResponseTimeout.
 */
export const RequestTimeoutError = ClientResponseTimeout
/**
 * The old name of {@link ClientResponseTimeout}.
 * @deprecated Use ClientResponseTimeout.
 */
export type RequestTimeoutError = ClientResponseTimeout

/** Every way a server→client request fails locally (a JSON-RPC error from the client is an `McpError`). */
export type ServerRequestError = ClientCapabilityNotDeclared | ClientResponseTimeout
