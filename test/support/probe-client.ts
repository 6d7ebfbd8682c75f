/** The probe stand-in lives under src/ so `npm run bench` uses the same client as the tests. */
export * from '../../src/bench/probe-client.js';
