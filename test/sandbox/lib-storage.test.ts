// The benchmark's SDK baseline: @aws-sdk/lib-storage against the sandbox's /s3 route, as the benchmark configures it.
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';

import { bytes, md5, MiB, sameBytes, sandbox } from './helpers.js';

const sdk = await Promise.all([import('@aws-sdk/client-s3'), import('@aws-sdk/lib-storage')]).catch(() => undefined);

describe.skipIf(!sdk)('@aws-sdk/lib-storage against /s3', () => {
  it('keeps the endpoint path with forcePathStyle and uploads byte-exact (multipart and PutObject)', async () => {
    const [{ S3Client }, { Upload }] = sdk!;
    const sb = await sandbox();
    const client = new S3Client({
      endpoint: `${sb.origin}/s3`,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
    });
    const big = bytes(11 * MiB + 5);
    const multipart = await new Upload({
      client,
      params: { Bucket: 'bench', Key: 'k/big.bin', Body: Readable.from([big.subarray(0, 3 * MiB), big.subarray(3 * MiB)]) },
      partSize: 5 * MiB,
      queueSize: 4,
    }).done();
    expect(multipart.ETag).toMatch(/^"[0-9a-f]{32}-3"$/);
    expect(await sameBytes(join(sb.dir, 's3', 'bench', 'k', 'big.bin'), big)).toBe(true);

    const small = bytes(1000);
    const single = await new Upload({ client, params: { Bucket: 'bench', Key: 'small.bin', Body: small } }).done();
    expect(single.ETag).toBe(`"${md5(small)}"`);
    expect(sb.stats().apiCalls).toMatchObject({ 's3.initiate': 1, 's3.part': 3, 's3.complete': 1, 's3.put': 1 });
    client.destroy();
  });
});
