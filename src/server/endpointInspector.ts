/**
 * An endpoint's own live inspector (`inspect` in `makeHttpServer`, `makeWsServer` and `startHost`):
 * started before the endpoint listens, so it sees every session, and describing
 * them through the runtime's registry (or the endpoint's `registry`, which lists
 * them too). Loaded on first use: an endpoint without `inspect` never loads the
 * inspector's code.
 */
import type { Inspector, InspectorOptions } from "../inspect/InspectorServer.ts"
import type { McpRuntime } from "../runtime/McpRuntime.ts"
import type { RegistryUnsafe } from "../runtime/Registry.ts"

export const startEndpointInspector = async (options: {
  readonly inspect?: boolean | InspectorOptions | undefined
  readonly registry?: RegistryUnsafe | undefined
  readonly runtime?: McpRuntime | undefined
}): Promise<Inspector | undefined> =>
  options.inspect
    ? (await import("../inspect/InspectorServer.ts")).startInspector({
      ...(options.inspect === true ? {} : options.inspect),
      ...(options.registry === undefined ? {} : { registry: options.registry }),
      ...(options.runtime === undefined ? {} : { runtime: options.runtime })
    })
    : undefined
