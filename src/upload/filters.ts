// --include / --exclude: which files of what was named are sent. Globs are picomatch's (`*`, `**`,
// `?`, `[abc]`, `{a,b}`), matched against a file's path relative to the folder named on the command
// line ('/'-separated on every OS; for a file named directly or in --files-from, the path as given).
// A glob without a slash matches a name at any depth. A rule that matches one of a file's parent
// folders matches the file too, so `--exclude .git` leaves out the whole folder.
//
// Order: the rules are read in the order given and the last one that matches decides. A file no
// rule matches is sent, unless the first rule is an --include (then only what is included is sent:
// `--include '*.txt'` alone sends the .txt files).
import path from 'node:path';
import picomatch from 'picomatch';
import { LakeupError } from '../errors.js';

export interface FilterRule {
  kind: 'include' | 'exclude';
  glob: string;
}

export class FileFilter {
  private readonly tests: Array<(path: string) => boolean>;
  /** The index of the last --include rule (-1: none). */
  private readonly lastInclude: number;

  constructor(private readonly rules: readonly FilterRule[]) {
    this.tests = rules.map((r) => {
      // dot: `*` matches .gitkeep too (a user leaving out `*.log` means .hidden.log as well);
      // windows: false, as the paths matched are '/'-separated everywhere.
      const glob = r.glob.replace(/^\.\//, '');
      if (glob === '' || glob.startsWith('/')) throw new LakeupError('usage', `--${r.kind}: '${r.glob}' is not a glob relative to the folder named (e.g. '*.log', 'build/**')`);
      const test = picomatch(glob, { dot: true, basename: !glob.includes('/'), windows: false });
      return (p: string) => test(p);
    });
    this.lastInclude = rules.reduce((last, r, i) => (r.kind === 'include' ? i : last), -1);
  }

  get active(): boolean {
    return this.rules.length > 0;
  }

  /** Whether the file at `rel` ('/'-separated) is sent. */
  sends(rel: string): boolean {
    const i = this.decider(rel);
    return i >= 0 ? this.rules[i].kind === 'include' : this.rules[0]?.kind !== 'include';
  }

  /** Whether no file under the folder at `rel` can be sent: it need not be walked. */
  prunes(rel: string): boolean {
    const i = this.decider(rel);
    return i >= 0 && this.rules[i].kind === 'exclude' && this.lastInclude < i;
  }

  /** The last rule matching the path or one of its parent folders; -1 when none does. */
  private decider(rel: string): number {
    const segments = rel.split('/');
    const paths = segments.map((_, n) => segments.slice(0, n + 1).join('/'));
    for (let i = this.rules.length - 1; i >= 0; i--) if (paths.some(this.tests[i])) return i;
    return -1;
  }
}

/** A path as the rules see it: '/'-separated (a backslash separates on Windows only), without a leading './'. */
export function filterPath(p: string, sep: string = path.sep): string {
  return p
    .split(sep === '\\' ? /[\\/]+/ : /\/+/)
    .filter((s, i) => !(i === 0 && s === '.'))
    .join('/');
}
