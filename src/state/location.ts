// Where state files live on each OS: --state-dir, else LAKEUP_STATE_DIR, else the platform's
// per-user state location.
import os from 'node:os';
import path from 'node:path';

export function defaultStateDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  home: string = os.homedir(),
): string {
  if (platform === 'win32') {
    const base = env.LOCALAPPDATA || path.win32.join(home, 'AppData', 'Local');
    return path.win32.join(base, 'lakeup', 'state');
  }
  if (platform === 'darwin') {
    return path.posix.join(home, 'Library', 'Application Support', 'lakeup', 'state');
  }
  const xdg = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(home, '.local', 'state');
  return path.join(xdg, 'lakeup');
}

export function resolveStateDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(flag || env.LAKEUP_STATE_DIR || defaultStateDir(env));
}
