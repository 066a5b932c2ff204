// A request refused before its handler runs (bad body, wrong content type, cross-site, no token): the status and
// message go to the client as they are, so the message must say what to send instead.

export class RequestError extends Error {
  readonly statusCode: number;
  /** The field at fault, when there is one (`body` for a body that cannot be read at all). */
  readonly field: string | undefined;
  constructor(statusCode: number, message: string, field?: string) {
    super(message);
    this.name = 'RequestError';
    this.statusCode = statusCode;
    this.field = field;
  }
}
