/** Names of the examples in `examples/index.ts`, importable without loading them (CLI usage checks). */
export const exampleNames: ReadonlyArray<string> = ["demo", "conformance"]
