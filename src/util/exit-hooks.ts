// Work that must happen however the process ends (process.exit after a second Ctrl-C included):
// synchronous, because nothing asynchronous runs once Node is exiting.
const hooks = new Set<() => void>();
let installed = false;

/** Runs `fn` when the process exits, unless the returned function is called first. */
export function onExitSync(fn: () => void): () => void {
  if (!installed) {
    installed = true;
    process.on('exit', () => {
      for (const h of [...hooks]) {
        try {
          h();
        } catch {
          /* one hook's failure must not keep the others from running */
        }
      }
    });
  }
  hooks.add(fn);
  return () => {
    hooks.delete(fn);
  };
}
