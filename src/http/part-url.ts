// Presigned part URLs come from the API, and the file's bytes go to them: they are judged before a
// byte is sent, whether they came in an answer or from a state file saved by an earlier run.

/**
 * Why a part URL handed out by the API at `apiEndpoint` must not be used, or undefined when it may:
 * it must be an http(s) URL, and plain http only when the API itself is plain http (the sandbox, a
 * local gateway). An https API that hands out http URLs would have the file sent in clear text.
 */
export function partUrlProblem(url: unknown, apiEndpoint: string): string | undefined {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    return 'is not an http(s) URL';
  }
  if (typeof url !== 'string' || (u.protocol !== 'https:' && u.protocol !== 'http:')) return 'is not an http(s) URL';
  if (u.protocol === 'http:' && apiProtocol(apiEndpoint) !== 'http:') {
    return 'is plain http:// while the API is https://: lakeup does not send a file unencrypted';
  }
  return undefined;
}

function apiProtocol(endpoint: string): string | undefined {
  try {
    return new URL(endpoint).protocol;
  } catch {
    return undefined;
  }
}

/** The first problem among a session's part URLs, as "part 3's upload URL is …", or undefined. */
export function partUrlsProblem(urls: readonly unknown[], apiEndpoint: string): string | undefined {
  for (let i = 0; i < urls.length; i++) {
    const why = partUrlProblem(urls[i], apiEndpoint);
    if (why) return `part ${i + 1}'s upload URL ${why}`;
  }
  return undefined;
}
