/** Yielding to the event loop between two pieces of a refresh, so /report requests are answered in between. */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
