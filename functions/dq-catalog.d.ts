// The catalog module bundled into the Worker (wrangler.toml [alias] "dq-catalog").
declare module 'dq-catalog' {
  const catalog: unknown
  export default catalog
}
