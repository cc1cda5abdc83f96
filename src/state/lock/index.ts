// The lock of an upload, so two processes never drive one upload; the only module the rest of
// lakeup imports for locking. The lock file `<id>.lock` holds its owner's pid, host and a random
// nonce, and appears with that content already in it (create.ts). It is a lease: one timer per
// process renews every lock the process holds (lease.ts); a lock whose holder is gone, or that
// nobody renewed for LEASE_MS, is stale (owner.ts decides, in one place) and is taken over by exactly
// one process (takeover.ts, with the argument why). acquire.ts takes a lock; sweep.ts clears what a
// killed lakeup left in the state folder.
//
//   owner.ts     what a lock file holds, the lease's figures, and whether its holder is alive
//   create.ts    a lock's name and content coming into being: our source file, linked exclusively
//   acquire.ts   acquireLock, acquireLockQuick (the cheap one for a run's small files), readLock
//   takeover.ts  replacing (or, for the sweep, deleting) a stale lock: one taker, never a live lock
//   lease.ts     the locks this process holds: renewing, confirming and releasing them
//   sweep.ts     temp files, lock sources, claims, dead locks and orphan URL files of killed processes
export { acquireLock, acquireLockQuick, readLock } from './acquire.js';
export { type Lock } from './lease.js';
export { isProcessAlive, LEASE_MS, readSnapshot, RENEW_MS, UNREADABLE_STALE_MS, type Liveness, type LockOwner } from './owner.js';
export { sweepStateDir } from './sweep.js';
export { claimPath, removeStaleLock } from './takeover.js';
