#!/usr/bin/env node
// The `attest` bin. npm links a workspace's bins before the root `prepare` script builds dist/, and skips
// a bin whose file does not exist yet; this checked-in file always exists, so `npx attest` works after a
// fresh `npm install`. The command itself is dist/bin.js (src/bin.ts).
try {
  await import('../dist/bin.js')
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/bin.js')) {
    console.error('attest: not built yet: run `npm run build` in the repository')
    process.exit(2)
  }
  throw err
}
