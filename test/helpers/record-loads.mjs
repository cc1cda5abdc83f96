// Preloaded into the CLI (`NODE_OPTIONS=--import=…`) by test/e2e/loading.e2e.test.ts: through Node's
// public module hooks, appends the URL of every ES module the CLI resolves (its bundle's chunks, and
// the node: modules they import) to the file named by LAKEUP_TEST_LOADS; at exit, Node's own
// internal modules the process loaded, one `internal:<name>` line each (process.moduleLoadList).
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';

process.on('exit', () => {
  const internal = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => `internal:${m.slice('NativeModule '.length)}`);
  appendFileSync(process.env.LAKEUP_TEST_LOADS, `${internal.join('\n')}\n`);
});

const hooks = `
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.LAKEUP_TEST_LOADS, r.url + '\\n');
  return r;
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
