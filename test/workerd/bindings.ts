/** The bindings the workerd tests give the Worker (shared by the config and the tests). */
export const WORKERD_API_TOKEN = 'workerd-test-token-0123456789'
/** Nothing listens on port 1: a request that reaches the database fails loudly. */
export const NO_DATABASE_URL = 'postgres://dq@127.0.0.1:1/no_database'
