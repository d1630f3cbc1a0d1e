/**
 * Issue 8's rule for peer-supplied strings ("never index a plain object"), on
 * the inspector's copy of a message: a peer's `__proto__` key (an own property
 * after `JSON.parse`) assigned into a plain object would set the copy's
 * prototype instead, so the key vanished from the inspector feed and records,
 * and the copy inherited the peer's values. `toJsonSafe` keeps it a key.
 */
import { describe, expect, it } from "vitest"
import { REDACTED, toJsonSafe } from "../src/inspect/redact.ts"

describe("the inspector's copy of a peer message keeps Object.prototype names as keys", () => {
  it("__proto__, constructor and toString from the wire stay own keys; nothing is inherited; secrets inside are still redacted", () => {
    const wire = JSON.parse('{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"__proto__":{"polluted":true,"password":"hunter2"},"constructor":"c","toString":"t","_meta":{"__proto__":"x"}}}') as unknown
    const copy = toJsonSafe(wire) as { params: Record<string, unknown> }
    const params = copy.params
    expect(Object.getPrototypeOf(params)).toBe(Object.prototype)
    expect(Object.keys(params)).toEqual(["__proto__", "constructor", "toString", "_meta"])
    expect((params as { polluted?: unknown }).polluted).toBeUndefined()
    expect(Object.getOwnPropertyDescriptor(params, "__proto__")?.value).toEqual({ polluted: true, password: REDACTED })
    expect(Object.keys(params._meta as object)).toEqual(["__proto__"])
    expect(JSON.stringify(copy)).toBe('{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"__proto__":{"polluted":true,"password":"[redacted]"},"constructor":"c","toString":"t","_meta":{"__proto__":"x"}}}')
  })
})
