/**
 * What this project adds to Moleculer's types (module augmentation, as Moleculer's TypeScript
 * template does). Declarations only; nothing here runs.
 */
import 'moleculer';

declare module 'moleculer' {
  interface CallingOptions {
    /**
     * Nodes a retried call should not go to while another node offers the action: the nodes that
     * already failed this page. Read by LeastOutstandingStrategy (src/broker/balancing.ts).
     */
    avoidNodes?: string[];
    /** The page's language: only nodes whose `ocr` service advertises it may take the call (balancing.ts). */
    language?: string;
  }

  interface ServiceBroker {
    /**
     * The circuit breaker's state per `<nodeID>:<action>`, set on the broker by Moleculer's
     * CircuitBreaker middleware when it is enabled; GET /workers/status reports it.
     */
    CircuitBreakerStore?: Map<string, { state: 'close' | 'half_open' | 'half_open_wait' | 'open' }>;

    /** Starts moleculer-repl and returns its Node REPL server (Moleculer's types say void; undefined without moleculer-repl). */
    repl(): import('node:repl').REPLServer | undefined;
  }
}
