/**
 * Lazy mode's idle close: once nothing has used the connection for `idleMs` (no request waiting,
 * no subscription), it is closed; the next use connects again.
 * @module
 */

/**
 * The idle timer of one client.
 * @internal
 */
export interface IdleClose {
  /** Something used the connection: restart the wait (no wait while busy). */
  touch(): void;
  /** Stops the timer for good (the client closed). */
  stop(): void;
}

/**
 * Creates the idle timer; without lazy mode it never fires.
 * @param lazy the client's `lazy` option
 * @param busy whether anything still needs the connection
 * @param close closes the connection (called when the wait ends and it is still idle)
 * @internal
 */
export function createIdleClose(lazy: false | { idleMs: number } | undefined, busy: () => boolean, close: () => void): IdleClose {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return {
    touch() {
      if (!lazy) return;
      clearTimeout(timer);
      if (busy()) return;
      timer = setTimeout(close, lazy.idleMs);
    },
    stop: () => clearTimeout(timer),
  };
}
