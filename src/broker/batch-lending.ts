/**
 * Recognition batches lent between workers. An engine reading a page while engines on other workers
 * idle (the last pages of a job, or one image sent to an idle cluster) sends some of the page's
 * batches there (`ocr.readBatch`), as the engines of one pool do between their threads. Workers
 * announce their idle engines (`ocr.idle`) when that number changes; a batch goes only to a worker
 * that announced idle engines and has the same recogniser (model file and dictionary), so its classes
 * mean the same. The worker decides when the batch arrives: one busy again answers null, and the
 * sender reads the batch itself, as it does when the call fails.
 */
import type { ServiceBroker } from 'moleculer';
import type { BatchHelper, IdleEnginesEvent, ReadBatchParams, StepMaxima } from '../contracts.ts';
import { streamOf } from './streams.ts';

/** How long a lent batch may take before its sender reads it itself: one takes well under a second. */
const LENT_BATCH_TIMEOUT_MS = 10_000;

/**
 * Batches out at once per idle engine: while it reads one, the next ones are on their way. The sender,
 * itself in the model, learns of each answer a batch late: with one out at a time an idle engine read
 * about one batch in four of a page, with three nearly one in two (the sender offers one per batch
 * it reads itself).
 */
const LENT_PER_ENGINE = 3;

/** The idle engines of the other workers, as they announced them, and batches lent to them. */
export class IdleEnginesElsewhere {
  private readonly broker: ServiceBroker;
  /** By node: its idle engines and recognisers, as announced. */
  private readonly idle = new Map<string, IdleEnginesEvent>();
  /** By node: batches lent to it and not yet answered. */
  private readonly lent = new Map<string, number>();
  private readonly listeners: (() => void)[] = [];

  constructor(broker: ServiceBroker) {
    this.broker = broker;
  }

  /** A worker's announcement (`ocr.idle`); this node's own are not kept. */
  heard(nodeID: string, event: IdleEnginesEvent): void {
    if (nodeID === this.broker.nodeID) return;
    if (event.engines > 0) this.idle.set(nodeID, { engines: event.engines, recognisers: event.recognisers });
    else this.idle.delete(nodeID);
    this.changed();
  }

  /** A node that left. */
  forget(nodeID: string): void {
    if (this.idle.delete(nodeID)) this.changed();
  }

  /** Calls `listener` whenever engines elsewhere become idle or busy. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Lends batches for recogniser `recogniser` to idle engines elsewhere. */
  recognitionHelper(recogniser: string): BatchHelper {
    return {
      free: () => this.pick(recogniser) !== undefined,
      read: (input, dims) => this.lend(recogniser, input, dims),
    };
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  /** The node with the most room for batches that has the recogniser. */
  private pick(recogniser: string): string | undefined {
    let chosen: string | undefined;
    let most = 0;
    for (const [node, { engines, recognisers }] of this.idle) {
      const room = engines * LENT_PER_ENGINE - (this.lent.get(node) ?? 0);
      if (room > most && recognisers.includes(recogniser)) {
        chosen = node;
        most = room;
      }
    }
    return chosen;
  }

  private async lend(recogniser: string, input: Float32Array, dims: number[]): Promise<StepMaxima | undefined> {
    const node = this.pick(recogniser);
    if (node === undefined) return undefined;
    const known = this.idle.get(node);
    this.lent.set(node, (this.lent.get(node) ?? 0) + 1);
    let declined = false;
    try {
      const reply = await this.broker.call<StepMaxima | null, ReadBatchParams>(
        'ocr.readBatch',
        { dims, recogniser },
        {
          nodeID: node,
          stream: streamOf(new Uint8Array(input.buffer, input.byteOffset, input.byteLength)),
          timeout: LENT_BATCH_TIMEOUT_MS,
          retries: 0,
        },
      );
      declined = !reply;
      return reply ?? undefined;
    } catch {
      declined = true;
      return undefined;
    } finally {
      const out = this.lent.get(node)! - 1;
      if (out > 0) this.lent.set(node, out);
      else this.lent.delete(node);
      // A node that declined or failed gets no more batches from here until it announces again.
      if (declined && this.idle.get(node) === known) this.idle.delete(node);
      this.changed();
    }
  }
}
