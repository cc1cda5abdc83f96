// Small helpers shared by the unit tests.
import net from 'node:net';
import { LakeupError } from '../../src/errors.js';

/** A local port nobody listens on: listen on an ephemeral port, then close it. */
export async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** Awaits a promise that must reject with a LakeupError, and returns the error. */
export async function rejection(p: Promise<unknown>): Promise<LakeupError> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof LakeupError)) throw new Error(`expected a LakeupError, got ${String(e)}`, { cause: e });
    return e;
  }
  throw new Error('expected a rejection, the promise resolved');
}

/** Calls a function that must throw a LakeupError, and returns the error. */
export function thrown(fn: () => unknown): LakeupError {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof LakeupError)) throw new Error(`expected a LakeupError, got ${String(e)}`, { cause: e });
    return e;
  }
  throw new Error('expected a LakeupError, nothing was thrown');
}

/** Runs `fn` while process.platform says `platform` (for code that reads it at each call: samePath, stateId). */
export function onPlatform<T>(platform: NodeJS.Platform, fn: () => T): T {
  const real = Object.getOwnPropertyDescriptor(process, 'platform')!;
  Object.defineProperty(process, 'platform', { ...real, value: platform });
  try {
    return fn();
  } finally {
    Object.defineProperty(process, 'platform', real);
  }
}
