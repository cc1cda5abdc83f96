#!/usr/bin/env node
// The Node peer for `npm run bench`: @aws-sdk/lib-storage's Upload of one file against the
// sandbox's path-style S3-compatible route (`<origin>/s3/<bucket>/<key>`), body = fs.createReadStream.
//   node scripts/bench-libstorage.mjs <origin> <file> <partSizeBytes> <queueSize>
// SDK defaults otherwise (it adds its default CRC32 request checksums, as it does for real users).
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

const [origin, file, partSize, queueSize] = process.argv.slice(2);
if (!origin || !file || !partSize || !queueSize) {
  console.error('usage: bench-libstorage.mjs <origin> <file> <partSizeBytes> <queueSize>');
  process.exit(2);
}

const client = new S3Client({
  endpoint: `${origin}/s3`,
  forcePathStyle: true,
  region: 'us-east-1',
  credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
});

try {
  const upload = new Upload({
    client,
    params: { Bucket: 'bench', Key: basename(file), Body: createReadStream(file) },
    partSize: Number(partSize),
    queueSize: Number(queueSize),
    leavePartsOnError: false,
  });
  const out = await upload.done();
  process.stdout.write(`${JSON.stringify({ ok: true, etag: out.ETag })}\n`);
} catch (err) {
  console.error(`bench-libstorage: ${err && err.message ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  client.destroy();
}
