// Types of fill-bytes.mjs (plain JavaScript: scripts/soak.mjs runs it without a build).
export declare function fillBytes(buf: Buffer, seed: number): void;
