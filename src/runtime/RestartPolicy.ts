/**
 * The restart policy lives in `src/protocol/restartPolicy.ts` (pure data and
 * rules), so that charts in `machines/` can decide restarts with it too; the
 * runtime re-exports it under its old path.
 *
 * @since 0.1.0
 */
export * from "../protocol/restartPolicy.ts"
