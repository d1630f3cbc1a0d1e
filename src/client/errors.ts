/** The client's typed errors; defined with the protocol so transports can raise them too. */
export * from "../protocol/requestErrors.ts"
