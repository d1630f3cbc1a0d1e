/**
 * The simulation's only source of randomness: xoshiro128** seeded through
 * splitmix32, so a 32-bit seed names a whole run. Small, fast, and with no
 * state outside this object (no `Math.random` anywhere in a simulated run).
 */
export interface Prng {
  /** Uniform in [0, 1). */
  next(): number
  /** Uniform integer in [0, n). */
  int(n: number): number
  /** Uniform integer in [min, max]. */
  between(min: number, max: number): number
  /** True with probability `p`. */
  chance(p: number): boolean
  pick<A>(items: ReadonlyArray<A>): A
  /** Pick by weight: `[[weight, value], …]`. */
  weighted<A>(items: ReadonlyArray<readonly [number, A]>): A
  /** How many numbers were drawn (part of the trace: a replay must draw the same ones). */
  readonly draws: number
}

const splitmix32 = (seed: number) => {
  let s = seed >>> 0
  return (): number => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
}

export const makePrng = (seed: number): Prng => {
  const init = splitmix32(seed)
  let a = init(), b = init(), c = init(), d = init()
  if ((a | b | c | d) === 0) a = 1
  let draws = 0
  const nextU32 = (): number => {
    draws++
    const result = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0
    const t = (b << 9) >>> 0
    c ^= a
    d ^= b
    b ^= c
    a ^= d
    c ^= t
    d = rotl(d, 11)
    return result
  }
  const next = () => nextU32() / 4294967296
  const prng: Prng = {
    next,
    int: (n) => Math.floor(next() * n),
    between: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => p > 0 && next() < p,
    pick: (items) => {
      if (items.length === 0) throw new RangeError("pick from an empty list")
      return items[Math.floor(next() * items.length)]!
    },
    weighted: (items) => {
      const total = items.reduce((sum, [w]) => sum + w, 0)
      let r = next() * total
      for (const [w, value] of items) {
        if (r < w) return value
        r -= w
      }
      return items[items.length - 1]![1]
    },
    get draws() {
      return draws
    }
  }
  return prng
}

const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0
