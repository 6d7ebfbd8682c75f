/**
 * Node flags `serve` is meant to run with: the Dockerfile's ENTRYPOINT, `npm start` and the bench
 * use exactly these. A 1 MB semi-space keeps V8's young generation from growing to 2 x 16 MB for a
 * heap of ~15 MB (~30 MB of resident memory on a 5,000-process host); the daemon allocates little
 * per tick, so its scavenges stay cheap. See native-notes/performance-history.md.
 */
export const SERVE_NODE_FLAGS = ['--max-semi-space-size=1'] as const;
