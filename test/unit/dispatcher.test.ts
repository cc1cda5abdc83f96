import { Agent, EnvHttpProxyAgent } from 'undici';
import { describe, expect, it } from 'vitest';
import { createDispatcher, hasProxyEnv } from '../../src/http/dispatcher.js';
import { loadMimeLookup } from '../../src/util/mime.js';

describe('hasProxyEnv', () => {
  it.each([
    [{ HTTPS_PROXY: 'http://p:3128' }, true],
    [{ https_proxy: 'http://p:3128' }, true],
    [{ HTTP_PROXY: 'http://p:3128' }, true],
    [{ http_proxy: 'http://p:3128' }, true],
    [{ NO_PROXY: '*' }, false],
    [{}, false],
  ] as Array<[NodeJS.ProcessEnv, boolean]>)('%j → %s', (env, yes) => {
    expect(hasProxyEnv(env)).toBe(yes);
  });
});

describe('createDispatcher', () => {
  it('is a plain keep-alive Agent without proxy variables', async () => {
    if (hasProxyEnv()) return; // the machine itself sets a proxy: covered by the case above
    const d = createDispatcher();
    expect(d).toBeInstanceOf(Agent);
    expect(d).not.toBeInstanceOf(EnvHttpProxyAgent);
    await d.close();
  });
});

describe('loadMimeLookup', () => {
  it.each([
    ['report.pdf', 'application/pdf'],
    ['big.zip', 'application/zip'],
    ['photo.JPG', 'image/jpeg'],
    ['noextension', 'application/octet-stream'],
    ['weird.xyz123', 'application/octet-stream'],
  ])('%s → %s', async (file, type) => {
    expect((await loadMimeLookup())(file)).toBe(type);
  });
});
