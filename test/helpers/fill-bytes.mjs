// The bytes of the tests' sample files (files.ts) and of the soak's trees (soak.mjs). Plain
// JavaScript, like soak.mjs, so that `node scripts/soak.mjs` runs it without a build.

/**
 * Fills `buf` with bytes that differ at every offset, so a shifted or swapped part is caught: a
 * xorshift32 seeded from `seed`, fast and repeatable, a 32-bit word at a time.
 * @param {Buffer} buf
 * @param {number} seed
 */
export function fillBytes(buf, seed) {
  let x = (seed ^ 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i + 4 <= buf.length; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf.writeUInt32LE(x, i);
  }
  for (let i = buf.length - (buf.length % 4); i < buf.length; i++) buf[i] = (x >>> ((i % 4) * 8)) & 0xff;
}
