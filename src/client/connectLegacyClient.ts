/**
 * A legacy `Client` on a message transport as a supervised node of a
 * runtime's tree: what `connectStdio` and `connectWs` are made of.
 *
 * @since 0.3.0
 */
import type { Transport } from "../transports/Transport.ts"
import { Client } from "./Client.ts"
import { type ClientRuntimeOptions, openClientConnection } from "./clientConnection.ts"
import { ClientSession, type ClientSessionOptions } from "./ClientSession.ts"

/**
 * The one `Client` over a legacy session on `transport` (already created, not
 * started), as a supervised node of the runtime's tree: `opened` (a spawn, a
 * socket upgrade) first, then the handshake. Whatever fails, the transport is
 * closed. What `connectStdio` and `connectWs` are made of.
 */
export const connectLegacyClient = async (
  transport: Transport,
  opened: Promise<unknown>,
  options: ClientSessionOptions & ClientRuntimeOptions
): Promise<Client> => {
  const node = openClientConnection(transport.kind, options)
  const release = () => transport.close()
  try {
    await opened
  } catch (e) {
    await node.abandon("transport failed to open", release)
    throw e
  }
  const { session, ready } = ClientSession.open(transport, options, node.lifecycle)
  const client = Client.legacy(session, release)
  try {
    node.supervise(client, release)
  } catch (e) {
    await ready.catch(() => {})
    throw e
  }
  // A failed handshake ends the session: its scope closes and releases the transport.
  return ready.then(() => client, async (e) => {
    await session.ended
    await release()
    throw e
  })
}
