/**
 * The command line of a script (`npm run soak|fuzz|sim`, the benchmarks in
 * bench/): node:util's `parseArgs` plus what each script otherwise wrote again:
 * `-h/--help` prints the usage (exit 0); an unknown option or a bad number prints
 * the mistake and the usage (exit 2), as `mcp-actors` itself does (src/cli/main.ts).
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util"

export const scriptArgs = <const O extends ParseArgsOptionsConfig>(usage: string, options: O, config: { readonly allowNegative?: boolean } = {}) => {
  const usageError = (message: string): never => {
    process.stderr.write(`${message}\n\n${usage}\n`)
    process.exit(2)
  }
  const parse = () => parseArgs({ options: { ...options, help: { type: "boolean", short: "h" } } as const, ...config })
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse()
  } catch (e) {
    return usageError(e instanceof Error ? e.message : String(e))
  }
  if ((parsed.values as { readonly help?: boolean }).help === true) {
    process.stdout.write(usage + "\n")
    process.exit(0)
  }
  const values = parsed.values
  const text = (name: keyof O & string): string | undefined => {
    const v: unknown = (values as Record<string, unknown>)[name]
    return typeof v === "string" ? v : undefined
  }
  const number = (name: keyof O & string, ok: (n: number) => boolean, what: string): number | undefined => {
    const v = text(name)
    if (v === undefined) return undefined
    const n = Number(v)
    return ok(n) ? n : usageError(`--${name} must be ${what}, got ${JSON.stringify(v)}`)
  }
  return {
    values,
    usageError,
    /** A string option as a number ≥ 0 (fractions allowed); undefined when absent. */
    nonNegative: (name: keyof O & string) => number(name, (n) => Number.isFinite(n) && n >= 0, "a non-negative number"),
    /** A string option as a number > 0 (fractions allowed); undefined when absent. */
    positive: (name: keyof O & string) => number(name, (n) => Number.isFinite(n) && n > 0, "a positive number"),
    /** A string option as an integer ≥ 0; undefined when absent. */
    count: (name: keyof O & string) => number(name, (n) => Number.isSafeInteger(n) && n >= 0, "a non-negative integer")
  }
}
