// A caller's AbortSignal, listened to once however many instances share it: one 'abort' listener per signal, which
// calls every instance's own handler. (A listener per instance made Node print MaxListenersExceededWarning as soon as
// more than 10 instances shared one signal.)

interface Listening {
  readonly handlers: Set<() => void>;
  readonly listener: () => void;
}

const bySignal = new WeakMap<AbortSignal, Listening>();

/**
 * Calls `handler` once when `signal` aborts, unless the returned removal has been called first. The signal gets one
 * listener for all its handlers, removed once the last handler is.
 */
export function listenToAbort(signal: AbortSignal, handler: () => void): () => void {
  let listening = bySignal.get(signal);
  if (listening === undefined) {
    const handlers = new Set<() => void>();
    const listener = (): void => {
      bySignal.delete(signal);
      // Each handler once, in the order they came; one that throws does not keep the others from running.
      for (const each of [...handlers]) {
        handlers.delete(each);
        try {
          each();
        } catch (error) {
          queueMicrotask(() => {
            throw error;
          });
        }
      }
    };
    listening = { handlers, listener };
    bySignal.set(signal, listening);
    signal.addEventListener('abort', listener, { once: true });
  }
  const { handlers, listener } = listening;
  handlers.add(handler);
  return () => {
    if (!handlers.delete(handler) || handlers.size > 0) return;
    signal.removeEventListener('abort', listener);
    if (bySignal.get(signal)?.listener === listener) bySignal.delete(signal);
  };
}
