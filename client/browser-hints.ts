/**
 * The browser's hints to a client: coming back online (retry at once instead of waiting out the
 * backoff) and a tab becoming visible again (its socket may have died while it slept). Outside a
 * browser there is nothing to listen to and this does nothing.
 * @module
 */

type EventSource = Partial<Pick<EventTarget, "addEventListener" | "removeEventListener">>;

/**
 * What a client does on each hint.
 * @internal
 */
export interface HintHandlers {
  /** The browser is online again. */
  online(): void;
  /** The page became visible again. */
  visible(): void;
}

/**
 * Starts listening to the browser's hints; returns the function that stops listening.
 * @internal
 */
export function listenToBrowserHints(on: HintHandlers): () => void {
  const win = globalThis as EventSource;
  const doc = (globalThis as { document?: EventSource & { visibilityState?: string } }).document;
  const onOnline = () => on.online();
  const onVisibility = () => doc?.visibilityState === "visible" && on.visible();
  /** Starts or stops listening. */
  const hints = (method: keyof EventSource) => {
    win[method]?.("online", onOnline);
    // The event is fired at the document (and bubbles to window); listen where it starts when we can.
    (doc?.[method] ? doc : win)[method]?.("visibilitychange", onVisibility);
  };
  hints("addEventListener");
  return () => hints("removeEventListener");
}
