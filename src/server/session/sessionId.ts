/** Server session ids. */
import { randomBytes } from "node:crypto"

/**
 * Session ids: 128 bits from the CSPRNG, base64url (visible ASCII). Drawn from a
 * pooled 4 KiB buffer: a 16-byte `randomBytes` call costs ~7 µs, a quarter of a
 * session's set-up on the churn benchmark.
 */
let idPool = Buffer.alloc(0)
let idPoolOffset = 0
export const newSessionId = (): string => {
  if (idPoolOffset + 16 > idPool.length) {
    idPool = randomBytes(4096)
    idPoolOffset = 0
  }
  const id = idPool.toString("base64url", idPoolOffset, idPoolOffset + 16)
  // Used bytes do not linger in memory (a loop: `fill` with a range costs more than these 16 stores).
  for (let i = idPoolOffset, end = idPoolOffset + 16; i < end; i++) idPool[i] = 0
  idPoolOffset += 16
  return id
}

