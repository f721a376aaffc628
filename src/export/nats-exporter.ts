// The log's records, streamed to a NATS JetStream stream, exactly once as JetStream defines it:
// each message carries Nats-Msg-Id <node>:<seq>, so a record sent again after a failure is
// dropped by the stream's de-duplication.
//
// Order: records are published in log order on one connection, up to `maxInFlight` ahead of the
// acknowledgements. The client never reconnects by itself (`reconnect: false`): a broken
// connection is closed with whatever it had not yet written, so the stream holds a gap-free prefix
// of what was sent, and the next connection starts again after the last acknowledged record.
//
// Resume point, on each connection: the highest of what this process saw acknowledged, the last
// ExportPosition in the log, and the seq of this node's last message in the stream. The last is
// what makes a restart after a crash exact: the records whose acknowledgement was lost are in
// the stream, and sending them again would rely on the duplicate window (2 minutes by default),
// which a long outage outlasts. The log's position covers a stream that lost its newest messages
// to its own limits, so that the export does not send history again.
import { connect, headers as natsHeaders, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, JetStreamApiError, type JetStreamClient, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import { BehaviorSubject } from 'rxjs';
import type { LogRecord } from '../log/index.js';
import { AckWindow } from './ack-window.js';
import { exportMessage, nodeSubjects, seqOfMessage } from './message.js';

export type ExporterState = 'connecting' | 'exporting' | 'retrying' | 'stopped';

/** The part of the log an exporter reads. */
export interface ExportedLog {
  readonly head: number;
  follow(from: number, signal?: AbortSignal): AsyncGenerator<LogRecord>;
}

/** Where the exporter's position is kept in the log (ExportPosition records). */
export interface PositionRecord {
  /** The last recorded position (0: none). */
  recorded(): number;
  record(seq: number): Promise<void>;
}

export interface NatsExportOptions {
  readonly connection: NodeConnectionOptions;
  readonly node: string;
  readonly stream: string;
  readonly subjectPrefix: string;
  /** Create the stream (subjects `<prefix>.>`) when it does not exist. */
  readonly createStream: boolean;
  readonly duplicateWindowMs: number;
  readonly maxInFlight: number;
  readonly ackTimeoutMs: number;
  /** How often a moved position is recorded in the log. */
  readonly positionIntervalMs: number;
  /** First wait before connecting again; doubles up to 30 s. */
  readonly retryMs: number;
  /** The type of the position records, which are never exported. */
  readonly positionType: string;
  readonly warn: (message: string) => void;
}

/** What `ledgerctl export status`, Introspection and the metrics show. */
export interface ExporterStatus {
  readonly state: ExporterState;
  /** Every record up to this seq is in the stream (or is not exported). */
  readonly acked: number;
  readonly head: number;
  readonly lag: number;
  readonly inFlight: number;
  /** The last position recorded in the log. */
  readonly recorded: number;
  readonly published: number;
  readonly duplicates: number;
  readonly failures: number;
  readonly connected: boolean;
  readonly server?: string;
  readonly lastError?: string;
}

const MAX_RETRY_MS = 30_000;
const STREAM_NOT_FOUND = 10059;

export class NatsExporter {
  readonly state$ = new BehaviorSubject<ExporterState>('connecting');
  private acked = 0;
  private exportedSinceRecord = false;
  private window: AckWindow | undefined;
  private published = 0;
  private duplicates = 0;
  private failures = 0;
  private lastError: string | undefined;
  private server: string | undefined;
  private readonly stopping = new AbortController();
  private running: Promise<void> | undefined;
  private positionTimer: NodeJS.Timeout | undefined;
  private recording: Promise<void> = Promise.resolve();
  /** When publishing last failed (cleared once a new connection decided where to resume). */
  private failedAt: number | undefined;

  constructor(
    private readonly log: ExportedLog,
    private readonly position: PositionRecord,
    private readonly options: NatsExportOptions,
  ) {}

  start(): void {
    this.acked = this.position.recorded();
    this.running ??= this.run();
    this.positionTimer = setInterval(() => this.recordPosition(), this.options.positionIntervalMs);
    this.positionTimer.unref();
  }

  status(): ExporterStatus {
    const head = this.log.head;
    return {
      state: this.state$.value,
      acked: this.acked,
      head,
      lag: Math.max(0, head - this.acked),
      inFlight: this.window?.inFlight ?? 0,
      recorded: this.position.recorded(),
      published: this.published,
      duplicates: this.duplicates,
      failures: this.failures,
      connected: this.state$.value === 'exporting',
      server: this.server,
      lastError: this.lastError,
    };
  }

  /** Waits for the records in flight (up to the ack timeout), then records the position. */
  async close(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.positionTimer);
    await this.running;
    this.recordPosition();
    await this.recording;
    this.state$.next('stopped');
    this.state$.complete();
  }

  private async run(): Promise<void> {
    let retries = 0;
    while (!this.stopping.signal.aborted) {
      this.state$.next('connecting');
      let nc: NatsConnection | undefined;
      try {
        // noAsyncTraces: the client would capture a stack for every publish in case it times out (a
        // quarter of the export's CPU, measured); an export error names its cause without it
        nc = await connect({ ...this.options.connection, reconnect: false, timeout: this.options.ackTimeoutMs, noAsyncTraces: true });
        this.server = nc.getServer();
        const from = await this.resumePoint(await jetstreamManager(nc, { timeout: this.options.ackTimeoutMs }));
        this.acked = from - 1;
        this.state$.next('exporting');
        retries = 0;
        await this.publishFrom(nc, jetstream(nc, { timeout: this.options.ackTimeoutMs }), from);
      } catch (err) {
        if (this.stopping.signal.aborted) break;
        this.failures++;
        this.lastError = `${new Date().toISOString()} ${err instanceof Error ? err.message : String(err)}`;
        if (retries === 0) this.options.warn(`export to NATS stream ${this.options.stream}: ${err instanceof Error ? err.message : String(err)}; retrying`);
      } finally {
        this.server = undefined;
        await nc?.close().catch(() => undefined);
      }
      if (this.stopping.signal.aborted) break;
      this.state$.next('retrying');
      await sleep(Math.min(this.options.retryMs * 2 ** retries++, MAX_RETRY_MS), this.stopping.signal);
    }
  }

  /** The stream exists (or is made), and the first seq it does not hold yet. */
  private async resumePoint(jsm: JetStreamManager): Promise<number> {
    const { stream, subjectPrefix, node } = this.options;
    const duplicateWindowMs = (await this.streamInfo(jsm)).config.duplicate_window / 1e6;
    const last = await jsm.streams.getMessage(stream, { last_by_subj: nodeSubjects(subjectPrefix, node) });
    const inStream = (last && seqOfMessage(node, last.header)) ?? 0;
    if (inStream > this.log.head) {
      throw new Error(
        `stream ${stream} holds seq ${inStream} of node "${node}", past this log's head ${this.log.head}: another log exports under this node name (set node in the export config)`,
      );
    }
    const known = Math.max(this.acked, this.position.recorded());
    // After a failure in this process, the records sent after the last acknowledged one may be in
    // the stream with a gap before them (a publish refused while a later one was stored, as in a
    // cluster's leader change): while the duplicate window still covers them, send them all again
    // and let the stream drop the ones it has. Otherwise (a restart, a long outage) sending them
    // again would store them twice: resume after the newest the stream holds.
    const failedAt = this.failedAt;
    this.failedAt = undefined;
    const resend = failedAt !== undefined && Date.now() - failedAt + this.options.ackTimeoutMs < duplicateWindowMs;
    return (resend ? known : Math.max(known, inStream)) + 1;
  }

  private async streamInfo(jsm: JetStreamManager): Promise<StreamInfo> {
    const { stream, subjectPrefix } = this.options;
    try {
      return await jsm.streams.info(stream);
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === STREAM_NOT_FOUND) || !this.options.createStream) throw err;
      return jsm.streams.add({ name: stream, subjects: [`${subjectPrefix}.>`], duplicate_window: this.options.duplicateWindowMs * 1e6 });
    }
  }

  /** Publishes from `from` on until the export stops (resolves) or a publish fails (throws). */
  private async publishFrom(nc: NatsConnection, js: JetStreamClient, from: number): Promise<void> {
    const { subjectPrefix, node, maxInFlight, ackTimeoutMs, positionType } = this.options;
    const reading = new AbortController();
    const window = new AckWindow(maxInFlight, from - 1, (acked, exported) => {
      this.acked = acked;
      if (exported !== undefined) this.exportedSinceRecord = true;
    });
    this.window = window;
    const stop = () => {
      reading.abort();
      window.wake();
    };
    this.stopping.signal.addEventListener('abort', stop, { once: true });
    let failure: unknown;
    const fail = (err: unknown) => {
      failure ??= err;
      this.failedAt ??= Date.now();
      stop();
    };
    const pending = new Set<Promise<void>>();
    void nc.closed().then((err) => fail(err ?? new Error('connection closed')));
    try {
      for await (const record of this.log.follow(from, reading.signal)) {
        if (record.type === positionType) {
          window.pass(record.seq);
          continue;
        }
        await window.room();
        if (failure !== undefined || reading.signal.aborted) break;
        const message = exportMessage(subjectPrefix, node, record);
        const headers = natsHeaders();
        for (const [name, value] of Object.entries(message.headers)) headers.set(name, value);
        window.add(record.seq);
        const published = js.publish(message.subject, message.body, { msgID: message.msgId, headers, timeout: ackTimeoutMs }).then(
          (ack) => {
            this.published++;
            if (ack.duplicate) this.duplicates++;
            window.settle(record.seq);
          },
          fail,
        );
        pending.add(published);
        void published.finally(() => pending.delete(published));
      }
      // what was handed out is acknowledged or fails within the ack timeout
      await Promise.all(pending);
    } finally {
      this.stopping.signal.removeEventListener('abort', stop);
      this.window = undefined;
    }
    if (failure !== undefined && !this.stopping.signal.aborted) throw failure;
  }

  /** Records the position in the log when records were exported since the last time. */
  private recordPosition(): void {
    if (!this.exportedSinceRecord || this.acked <= this.position.recorded()) return;
    this.exportedSinceRecord = false;
    const seq = this.acked;
    this.recording = this.recording
      .then(() => this.position.record(seq))
      .catch((err: Error) => this.options.warn(`export: recording position ${seq} in the log: ${err.message}`));
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
