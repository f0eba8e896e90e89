/**
 * The two ways a call to the hub fails, apart from the HTTP client that makes the calls
 * (client.ts): the CLI's exit statuses (src/cli/exit-codes.ts) recognise them without loading
 * that client, so that a command that ends on a usage mistake starts no more than it needs.
 */

/** The hub answered with an error: its status and stable error code (docs/protocol.md). */
export class HubHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HubHttpError';
  }
}

/** No reply from the hub: refused, reset or timed out. */
export class HubUnreachableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HubUnreachableError';
  }
}
