// Bundles GraphiQL into ../dist, which internal/playground embeds:
// `make playground-assets` runs it after `npm ci`. The output is
// deterministic (same lockfile, same bytes), every file name carries a
// hash of its content (so the server may tell browsers to keep them for a
// year), and manifest.json names the files the page loads, their
// checksums and the versions they were built from.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const here = import.meta.dirname;
const out = join(here, '..', 'dist');

// Monaco's three workers (labels as Monaco asks for them) are entry points
// of their own: a worker cannot share the page's bundle.
const workers = {
  editor: 'monaco-editor/esm/vs/editor/editor.worker.js',
  json: 'monaco-editor/esm/vs/language/json/json.worker.js',
  graphql: 'monaco-graphql/esm/graphql.worker.js',
};

rmSync(out, { recursive: true, force: true });
const result = await build({
  absWorkingDir: here,
  entryPoints: [{ in: 'main.jsx', out: 'graphiql' }, ...Object.entries(workers).map(([label, file]) => ({ in: file, out: `${label}.worker` }))],
  outdir: out,
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2022',
  jsx: 'automatic',
  define: { 'process.env.NODE_ENV': '"production"' },
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  loader: { '.ttf': 'file' },
  // The packages' licence notices, kept beside the bundle rather than in it.
  legalComments: 'external',
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.entries(result.metafile.outputs);
const named = (prefix, ext) => basename(outputs.find(([f]) => basename(f).startsWith(prefix) && f.endsWith(ext))[0]);
const lock = JSON.parse(readFileSync(join(here, 'package-lock.json'), 'utf8'));
const pkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
const files = readdirSync(out).sort();
const manifest = {
  script: named('graphiql-', '.js'),
  stylesheet: named('graphiql-', '.css'),
  workers: Object.fromEntries(Object.keys(workers).map((label) => [label, named(`${label}.worker-`, '.js')])),
  versions: Object.fromEntries(
    [...Object.keys(pkg.dependencies), 'monaco-editor', 'monaco-graphql', '@graphiql/react']
      .sort()
      .map((name) => [name, lock.packages[`node_modules/${name}`].version]),
  ),
  sha256: Object.fromEntries(files.map((f) => [f, createHash('sha256').update(readFileSync(join(out, f))).digest('hex')])),
};
writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
for (const f of files) console.log(f);
