#!/usr/bin/env node
/* Query a built site's search index with the site's own client (assets/search.js).
 *
 *   node tools/search.js SITE_DIR "query" [--limit N] [--system ID] [--billable] [--prefix]
 *   node tools/search.js SITE_DIR --batch [--limit N] < queries.jsonl
 *
 * SITE_DIR is the public output folder (build/site) or a site folder holding build/site.
 * Prints one JSON line per result: {"code": ..., "title": ..., "url": ...}. With --batch, reads
 * one JSON query per line ({"q": ..., "system"?, "billable"?}) and prints one line per query
 * with its results, the shard bytes it loaded (raw and gzip) and the milliseconds it took,
 * all through one engine, as a browser tab would.
 */
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

function usage() {
  process.stderr.write('usage: node tools/search.js SITE_DIR "query" [--limit N] [--system ID] [--billable] [--prefix]\n' +
    '       node tools/search.js SITE_DIR --batch [--limit N] < queries.jsonl\n');
  process.exit(2);
}

const args = process.argv.slice(2);
const opts = { limit: 10 };
const pos = [];
let batch = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--limit') opts.limit = parseInt(args[++i], 10);
  else if (a === '--system') opts.system = args[++i];
  else if (a === '--billable') opts.billable = true;
  else if (a === '--prefix') opts.prefix = true;
  else if (a === '--batch') batch = true;
  else if (a.startsWith('--')) usage();
  else pos.push(a);
}
if (pos.length !== (batch ? 1 : 2) || !(opts.limit > 0)) usage();

let site = path.resolve(pos[0]);
if (!fs.existsSync(path.join(site, 'search-index')) && fs.existsSync(path.join(site, 'build', 'site', 'search-index'))) {
  site = path.join(site, 'build', 'site');
}
const indexDir = path.join(site, 'search-index');
if (!fs.existsSync(path.join(indexDir, 'manifest.js'))) {
  process.stderr.write(`no search index in ${indexDir}: build the site first\n`);
  process.exit(1);
}
const clientFile = fs.existsSync(path.join(site, 'assets', 'search.js'))
  ? path.join(site, 'assets', 'search.js') : path.join(__dirname, '..', 'assets', 'search.js');
const client = require(clientFile);

let loaded = { files: 0, raw: 0, gzip: 0 };
const engine = new client.Engine(client.fileLoader(indexDir, (name, text) => {
  loaded.files += 1;
  loaded.raw += Buffer.byteLength(text);
  loaded.gzip += zlib.gzipSync(text, { level: 6 }).length;
}));

function line(r) {
  return JSON.stringify({ code: r.code, title: r.title, url: r.url });
}

async function main() {
  if (!batch) {
    const res = await engine.search(pos[1], opts);
    for (const r of res.results) process.stdout.write(line(r) + '\n');
    return;
  }
  const input = fs.readFileSync(0, 'utf8').split('\n').filter((l) => l.trim());
  for (const l of input) {
    const q = JSON.parse(l);
    loaded = { files: 0, raw: 0, gzip: 0 };
    const t0 = process.hrtime.bigint();
    const res = await engine.search(q.q, Object.assign({}, opts, q));
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    process.stdout.write(JSON.stringify({ q: q.q, codes: res.results.map((r) => r.code), loaded, ms }) + '\n');
  }
}

main().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\n'); process.exit(1); });
