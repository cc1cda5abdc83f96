// A big tree's files are sent as the walk finds them: the first upload starts before the walk is
// done. Proved by events, not a clock: every API call is held at a gate until the first upload's
// first call has arrived; then a file is added to the tree's last folder. A run that walked the whole
// tree before sending anything cannot have seen it; a streaming run (at most SCAN_AHEAD files found
// ahead of the uploads) has not listed that folder yet, and sends it.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startGateProxy } from '../helpers/gate-proxy.js';
import { useSandboxBed } from '../helpers/sandbox-bed.js';
import { waitFor } from '../helpers/wait.js';

const bed = useSandboxBed();

describe('the walk streams', () => {
  it("a large tree's first upload starts before its walk ends (a file added to its last folder then is sent)", async () => {
    // 5 folders of 500 files: 2,500 found in all, more than the 1,000 the run scans ahead.
    const root = path.join(bed.work, 'big-tree');
    for (let d = 0; d < 5; d++) {
      const dir = path.join(root, `d${d}`);
      fs.mkdirSync(dir, { recursive: true });
      for (let i = 0; i < 500; i++) fs.writeFileSync(path.join(dir, `f${String(i).padStart(3, '0')}.txt`), `${d}/${i}\n`);
    }
    const gate = await startGateProxy(bed.sb.origin);
    try {
      const running = runCli(['put', root, '-r', '-p', 'memorylake'], { env: { ...bed.env, LAKEUP_ENDPOINT: gate.origin } });
      await waitFor('the first upload to make its first API call', () => gate.held >= 1, 60_000);
      fs.writeFileSync(path.join(root, 'd4', 'zz-late.txt'), 'found by a walk still going\n');
      gate.open();
      const r = await running;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/lakeup: 2501 files: 2501 uploaded/);
    } finally {
      await gate.close();
    }
    expect(bed.sb.stats().finalized.filter((f) => f.name === 'zz-late.txt')).toHaveLength(1);
  });
});
