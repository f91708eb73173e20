#!/usr/bin/env node
// Sends identify, track, page, screen, group and alias calls, then a number
// of extra track calls, through the real @segment/analytics-node client, and
// flushes with closeAndFlush. Any test against a running ingest API can use
// it: only the host and the write key change.
//
// Usage:
//   node send.cjs --host http://127.0.0.1:8080 --write-key KEY
//                 [--events N] [--prefix P] [--flush-at N] [--max-retries N]
// Each flag may come from the environment instead: INGEST_HOST,
// INGEST_WRITE_KEY, INGEST_EVENTS (extra track calls, default 0),
// INGEST_PREFIX (prefix of the user, group and message ids, default "t"),
// INGEST_FLUSH_AT (events per batch request, default 15), INGEST_MAX_RETRIES
// (default 3).
//
// The client package is found through NODE_PATH, or in
// testdata/node/node_modules at the root of the repository.
//
// Prints one JSON object on stdout:
//   {"sent":[{"type","messageId","userId","anonymousId"}, ...],  (call order)
//    "failed":[{"messageId","reason"}, ...],
//    "statuses":[200, ...]}                                    (per HTTP request)
// and exits 1 when any event was not delivered.
'use strict'

const path = require('node:path')

function loadClient() {
  try {
    return require('@segment/analytics-node')
  } catch {
    const modules = path.resolve(__dirname, '..', '..', '..', 'testdata', 'node', 'node_modules')
    return require(path.join(modules, '@segment', 'analytics-node'))
  }
}

function options() {
  const o = {
    host: process.env.INGEST_HOST,
    writeKey: process.env.INGEST_WRITE_KEY,
    events: process.env.INGEST_EVENTS || '0',
    prefix: process.env.INGEST_PREFIX || 't',
    flushAt: process.env.INGEST_FLUSH_AT || '15',
    maxRetries: process.env.INGEST_MAX_RETRIES || '3',
  }
  const flags = { '--host': 'host', '--write-key': 'writeKey', '--events': 'events', '--prefix': 'prefix',
    '--flush-at': 'flushAt', '--max-retries': 'maxRetries' }
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i++) {
    const name = flags[argv[i]]
    if (!name || i + 1 >= argv.length) {
      throw new Error(`unknown or incomplete flag ${argv[i]}`)
    }
    o[name] = argv[++i]
  }
  if (!o.host || !o.writeKey) {
    throw new Error('--host and --write-key (or INGEST_HOST and INGEST_WRITE_KEY) are required')
  }
  return { ...o, events: Number(o.events), flushAt: Number(o.flushAt), maxRetries: Number(o.maxRetries) }
}

async function main() {
  const o = options()
  const { Analytics } = loadClient()
  const analytics = new Analytics({
    writeKey: o.writeKey,
    host: o.host,
    flushAt: o.flushAt,
    flushInterval: 200,
    maxRetries: o.maxRetries,
  })
  const statuses = []
  analytics.on('http_response', (r) => statuses.push(r.status))

  const p = o.prefix
  const user = `${p}-user-1`
  const anon = `${p}-anon-1`
  const sent = []
  const failed = []
  const pending = []
  // call invokes a client method and records the event once delivered.
  const call = (method, params) => {
    const slot = sent.length
    sent.push(null)
    pending.push(new Promise((resolve) => {
      analytics[method](params, (err, ctx) => {
        const e = ctx.event
        sent[slot] = { type: e.type, messageId: e.messageId, userId: e.userId ?? null, anonymousId: e.anonymousId ?? null }
        if (err) failed.push({ messageId: e.messageId, reason: String(err && err.message ? err.message : err) })
        resolve()
      })
    }))
  }

  call('identify', { userId: user, anonymousId: anon,
    traits: { email: `${p}-ada@example.com`, name: 'Ada Lovelace', plan: 'pro', logins: 3 } })
  call('track', { userId: user, event: 'Order Completed',
    properties: { order_id: `${p}-o-1`, revenue: 42.5, currency: 'EUR', items: [{ sku: 'a', qty: 2 }] } })
  call('page', { anonymousId: anon, category: 'Docs', name: 'Quickstart',
    properties: { url: 'https://example.com/docs/quickstart', path: '/docs/quickstart' } })
  call('screen', { userId: user, name: 'Home', properties: { variant: 'b' } })
  call('group', { userId: user, groupId: `${p}-org-1`, traits: { name: 'Acme', employees: 50 } })
  call('alias', { userId: user, previousId: anon })
  // A historical event, with its own messageId and timestamp.
  call('track', { userId: user, event: 'Signed Up', messageId: `${p}-historical-1`,
    timestamp: new Date('2024-01-02T03:04:05.678Z'), context: { campaign: { source: 'import' } } })
  for (let i = 0; i < o.events; i++) {
    call('track', { anonymousId: anon, event: 'Item Viewed', properties: { index: i } })
  }

  await analytics.closeAndFlush({ timeout: 30000 })
  await Promise.all(pending)
  process.stdout.write(JSON.stringify({ sent, failed, statuses }) + '\n')
  process.exitCode = failed.length ? 1 : 0
}

main().catch((err) => {
  process.stderr.write(`send.cjs: ${err.message || err}\n`)
  process.exitCode = 2
})
