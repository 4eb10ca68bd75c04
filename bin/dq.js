#!/usr/bin/env node
// The CLI is TypeScript run by Node's built-in type stripping (unflagged since
// Node 22.18); 22.12 to 22.17 need the flag, so re-run with it. Older Nodes
// cannot run it at all: say so, and how to get a newer one.
import { spawnSync } from 'node:child_process'

const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(
    `dq needs Node.js 22.12 or later (24 LTS recommended); this is ${process.version}.\n` +
      '  With nvm or fnm:  nvm install && nvm use   (reads .nvmrc: 24)\n' +
      '  Without one:      npm i -g --prefix "$HOME/.node24" node@24 && export PATH="$HOME/.node24/bin:$PATH"\n',
  )
  process.exit(2)
}

if (process.features.typescript) {
  await import('./tsx-hooks.js') // the status pages are .tsx (JSX), which Node does not compile
  const { main } = await import('../functions/cli/index.ts')
  process.exitCode = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  })
} else {
  const child = spawnSync(
    process.execPath,
    ['--experimental-strip-types', '--no-warnings', ...process.argv.slice(1)],
    { stdio: 'inherit' },
  )
  process.exit(child.status ?? 2)
}
