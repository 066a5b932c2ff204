// Ending a connection at once. mysql2's destroy() only half-closes the socket (stream.end()): a server thread still
// sending a result the client stopped reading (paused for backpressure, or abandoned on abort) stays blocked on its
// write, its transaction open, until the server's net_write_timeout. Destroying the socket as well lets the server see
// the close now: the thread ends and its transaction (a snapshot, locks) goes with it.

/** A mysql2 connection, callback or promise flavour (the latter keeps the core as `connection`). */
export interface DiscardableConnection {
  destroy(): void;
}

interface WithSocket {
  stream?: { destroy?: () => void };
  connection?: WithSocket;
}

/** Ends `conn` and its socket at once (never hand it back to a pool afterwards). */
export function discardConnection(conn: DiscardableConnection): void {
  conn.destroy();
  const core = conn as WithSocket;
  (core.stream ?? core.connection?.stream)?.destroy?.();
}
