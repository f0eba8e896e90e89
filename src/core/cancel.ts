/**
 * The part of an AbortSignal that the services use to learn that a client went away. An
 * AbortSignal is one; the HTTP front hands a lighter one of its own to each request that waits
 * (an AbortController with a listener costs about a kilobyte, and 10,000 long-polls park at once).
 */
export type CancelListener = (() => void) | { handleEvent(): void };

export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: CancelListener, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: CancelListener): void;
}
