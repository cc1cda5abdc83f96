#!/usr/bin/env node
// `npm run build`: bundles the CLI with esbuild into dist/lakeup.js, the ES module bin/lakeup.js loads,
// and the chunks it imports on demand, dist/chunks/ (tsc only checks types: `npm run typecheck`).
// Also dist/dev.js, what the demo, soak and benchmark scripts and a test run in a plain Node process
// take from src, built: the sandbox server, parseSize, StateWriter (not shipped: see `files`).
//
// - Libraries are bundled through their public entry points (no deep imports, no patches); the
//   package needs no node_modules at run time.
// - Each module the CLI imports lazily (`await import(...)`) stays a separate chunk, loaded on first
//   use: `--version` reads ~140 KB (commander and main.ts), not the 1.6 MB with undici. Node 20 has no
//   compile cache, and compiling the whole bundle cost ~20 ms at every start (measured: docs/performance.md).
// - Licences: the bundled packages' legal comments stay in the file (legalComments), and every
//   bundled package's licence file is copied into dist/THIRD-PARTY-LICENSES.txt.
// - Stack traces: the bundle is not minified (names stay; keepNames would add a call per closure
//   created, a cost per file), and dist/lakeup.js.map maps it back to src/; bin/lakeup.js
//   turns source maps on only for --verbose (reading the map costs start-up time).
import { build } from 'esbuild';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const dist = path.join(root, 'dist');
rmSync(dist, { recursive: true, force: true });

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.18',
  absWorkingDir: root,
  logLevel: 'warning',
  legalComments: 'eof',
  minifyWhitespace: true,
  minifySyntax: true,
  // CommonJS packages inside an ES module call require() for Node's own modules.
  banner: { js: "import { createRequire as __lakeupCreateRequire } from 'node:module';\nconst require = __lakeupCreateRequire(import.meta.url);" },
  define: { LAKEUP_VERSION: JSON.stringify(pkg.version) },
  metafile: true,
};

const cli = await build({
  ...common,
  entryPoints: { lakeup: 'src/cli/main.ts' },
  outdir: 'dist',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: 'linked',
  sourcesContent: false,
});
// The scripts start the sandbox in their own process and parse their --size flags with parseSize;
// test/unit/state-writer.test.ts exits a plain Node process under a StateWriter.
await build({
  ...common,
  stdin: {
    contents: [
      "export * from './src/sandbox/server.ts';",
      "export { parseSize } from './src/util/sizes.ts';",
      "export { StateWriter } from './src/state/state-writer.ts';",
    ].join('\n'),
    resolveDir: root,
    sourcefile: 'dev-entry.ts',
    loader: 'ts',
  },
  outfile: 'dist/dev.js',
  sourcemap: false,
});

// The GitHub Action's entry (action.yml runs dist/action/main.js on the runner's Node): one file,
// @actions/core bundled in, so a release tag needs no node_modules. It runs bin/lakeup.js.
const action = await build({
  ...common,
  entryPoints: { main: 'src/action/main.ts' },
  outdir: 'dist/action',
  sourcemap: false,
});

// Which source modules each output file holds (test/helpers/loads.ts reads it; not shipped).
const outputs = {};
for (const [file, out] of Object.entries(cli.metafile.outputs)) if (file.endsWith('.js')) outputs[path.relative('dist', file).split(path.sep).join('/')] = Object.keys(out.inputs);
writeFileSync(path.join(dist, 'lakeup.modules.json'), `${JSON.stringify(outputs, null, 1)}\n`);

// The licence of every package bundled into the CLI.
const packages = new Map();
for (const input of [...Object.keys(cli.metafile.inputs), ...Object.keys(action.metafile.inputs)]) {
  const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (m && !packages.has(m[1])) packages.set(m[1], JSON.parse(readFileSync(path.join(root, m[1], 'package.json'), 'utf8')));
}
const notices = [];
for (const [dir, p] of [...packages].sort((a, b) => a[1].name.localeCompare(b[1].name))) {
  const name = readdirSync(path.join(root, dir)).find((f) => /^licen[cs]e/i.test(f));
  const file = name && path.join(root, dir, name);
  if (!file) throw new Error(`build: ${p.name} has no licence file to ship with the bundle`);
  notices.push(`${p.name}@${p.version} (${p.license})\n\n${readFileSync(file, 'utf8').trim()}\n`);
}
writeFileSync(
  path.join(dist, 'THIRD-PARTY-LICENSES.txt'),
  `dist/lakeup.js and dist/action/main.js bundle these packages; their licences follow.\n\n${notices.join(`\n${'-'.repeat(72)}\n\n`)}`,
);
const kib = (f) => `${Math.round(readFileSync(path.join(dist, f)).length / 1024)} KiB`;
const chunks = readdirSync(path.join(dist, 'chunks')).filter((f) => f.endsWith('.js'));
process.stdout.write(
  `build: dist/lakeup.js ${kib('lakeup.js')} + ${chunks.length} chunks (${packages.size} packages bundled), dist/dev.js ${kib('dev.js')}\n`,
);
