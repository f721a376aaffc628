// Publishes task events to the daemon (containerd's runtime/v2/shim/publisher.go): Forward over
// ttrpc to TTRPC_ADDRESS, in order, each call with a 5 s deadline; a failed event is retried
// from a queue (after count x 1 s, dropped after 5 retries); a closed connection is redialled.
import { encode, timestampFromNs, type Message, type MessageType } from '../wire/protocol/protowire.js';
import { EVENTS_SERVICE, ForwardRequest } from '../wire/protocol/events.js';
import { TtrpcClient } from '../wire/ttrpc/client.js';
import { NAMESPACE_METADATA_KEY } from '../wire/ttrpc/messages.js';
import { log } from './log.js';
import { nowNs } from './reaper.js';
import type { EventSink } from './task-service.js';

const FORWARD_TIMEOUT_MS = 5000;
const MAX_RETRIES = 5;
const DIAL_TIMEOUT_MS = 5000;

interface Item {
  readonly topic: string;
  readonly payload: Uint8Array;
  count: number;
}

export class Publisher implements EventSink {
  private client: TtrpcClient | undefined;
  private dialing: Promise<TtrpcClient> | undefined;
  private readonly queue: Item[] = [];
  private draining = false;
  private closed = false;

  constructor(
    /** The daemon's ttrpc socket (unix:// prefix allowed); '' disables publishing. */
    private readonly address: string,
    private readonly namespace: string,
  ) {}

  publish(topic: string, type: MessageType, event: Message): void {
    if (!this.address || this.closed) return;
    const payload = encode(ForwardRequest, {
      envelope: { timestamp: timestampFromNs(nowNs()), namespace: this.namespace, topic, event: { type_url: type.name, value: encode(type, event) } },
    });
    this.queue.push({ topic, payload, count: 0 });
    void this.drain();
  }

  /** Resolves once every queued event was sent or given up on. */
  async flush(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.queue.length > 0 || this.draining) && Date.now() < deadline) await sleep(10);
  }

  close(): void {
    this.closed = true;
    void this.client?.close();
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const item = this.queue[0]!;
        try {
          await this.forward(item);
          this.queue.shift();
        } catch (err) {
          item.count++;
          if (item.count > MAX_RETRIES) {
            log.error(`post event ${item.topic}: ${(err as Error).message}; dropped after ${MAX_RETRIES} retries`);
            this.queue.shift();
            continue;
          }
          await sleep(item.count * 1000);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private async forward(item: Item): Promise<void> {
    // connected: send now, in the caller's turn (an exit is published from the SIGCHLD handler,
    // which goes on to look for orphans before any awaited continuation would run)
    const client = this.client && !this.client.closed ? this.client : await this.connect();
    try {
      await client.call(EVENTS_SERVICE, 'Forward', item.payload, { timeoutMs: FORWARD_TIMEOUT_MS, metadata: { [NAMESPACE_METADATA_KEY]: this.namespace } });
    } catch (err) {
      if (client.closed) this.client = undefined; // redial on the next attempt
      throw err;
    }
  }

  private connect(): Promise<TtrpcClient> {
    if (this.client && !this.client.closed) return Promise.resolve(this.client);
    let dialing = this.dialing;
    if (!dialing) {
      dialing = this.dialing = TtrpcClient.connect(this.address.replace(/^unix:\/\//, ''), { timeoutMs: DIAL_TIMEOUT_MS })
        .then((client: TtrpcClient) => {
          this.client = client;
          client.onClose(() => {
            if (this.client === client) this.client = undefined;
          });
          return client;
        })
        .finally(() => (this.dialing = undefined));
    }
    return dialing;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
