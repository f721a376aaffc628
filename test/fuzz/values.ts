// Seeded generation of protobuf requests: valid, boundary and malformed field values.
import protobuf from 'protobufjs';

/** mulberry32: a small seeded PRNG, so a run is reproduced by its seed. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

const HEX64 = 'a'.repeat(64);
const HUGE = 'x'.repeat(64 * 1024);

/** Names the daemon may know (so some calls reach past NotFound), and hostile ones. */
const STRINGS = [
  '',
  'fuzz',
  'fuzz-a',
  'fuzz.b_c',
  'default',
  'docker.io/library/fuzz:latest',
  `sha256:${HEX64}`,
  'sha256:',
  'sha256:zz',
  'md5:abc',
  '/',
  '../../etc/passwd',
  'a/b/c',
  'name with spaces',
  'ünïcödé-名前',
  'nul\0byte',
  '\uD800',
  '-leading-dash',
  'x'.repeat(77),
  'x'.repeat(300),
  HUGE,
  'labels.a',
  'io.containerd.runc.v2',
  'io.containerd.runtime.v1.linux',
  'overlayfs',
  'native',
  'application/vnd.oci.image.manifest.v1+json',
  'type==content',
  'labels."a"==b,name~=x',
  'name==',
  '((',
];

const MASK_PATHS = ['labels', 'labels.a', 'labels.x.y', 'name', 'target', 'spec', 'image', 'runtime', 'snapshotter', 'snapshot_key', 'extensions', 'extensions.x', 'annotations', 'unknown', '', 'labels.' + 'k'.repeat(5000)];

const TYPE_URLS = [
  '',
  'containerd.events.TaskExit',
  'containerd.events.ContainerCreate',
  'types.containerd.io/opencontainers/runtime-spec/1/Spec',
  'type.googleapis.com/containerd.runc.v1.Options',
  'containerd.runc.v1.Options',
  'bogus/type',
  'google.protobuf.Empty',
  'x'.repeat(5000),
];

const INTEGERS: (number | string)[] = [0, 1, -1, 7, 4096, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, 2 ** 53, '9223372036854775807', '-9223372036854775808', '18446744073709551615'];

export class MessageGenerator {
  constructor(private readonly random: Random) {}

  /** A plain object for `type`: each field omitted, valid-looking, at a boundary, or hostile. */
  message(type: protobuf.Type, depth = 0): Record<string, unknown> {
    const full = type.fullName.replace(/^\./, '');
    if (full === 'google.protobuf.Timestamp') return this.timestamp();
    if (full === 'google.protobuf.Any') return { type_url: this.random.pick(TYPE_URLS), value: this.random.bytes(this.random.int(64)) };
    if (full === 'google.protobuf.FieldMask') return { paths: Array.from({ length: this.random.int(4) }, () => this.random.pick(MASK_PATHS)) };
    const out: Record<string, unknown> = {};
    for (const field of type.fieldsArray) {
      if (this.random.chance(depth > 2 ? 0.8 : 0.35)) continue;
      if (field.map) out[field.name] = this.map(field as unknown as protobuf.MapField, depth);
      else if (field.repeated) out[field.name] = Array.from({ length: this.random.int(4) }, () => this.value(field, depth));
      else out[field.name] = this.value(field, depth);
    }
    // a oneof holds at most one member when encoded; protobufjs writes them all otherwise
    for (const oneof of type.oneofsArray) {
      const set = oneof.fieldsArray.filter((f) => f.name in out);
      for (const extra of set.slice(1)) delete out[extra.name];
    }
    return out;
  }

  /** A Timestamp: now, Go's zero time, the range's edges, or past them. */
  timestamp(): Record<string, unknown> {
    return this.random.pick([
      { seconds: Math.floor(Date.now() / 1000), nanos: 0 },
      { seconds: -62135596800, nanos: 0 },
      { seconds: 253402300799, nanos: 999_999_999 },
      { seconds: '9223372036854775807', nanos: 999_999_999 },
      { seconds: '-9223372036854775808', nanos: 0 },
      { seconds: 0, nanos: -1 },
      { seconds: 0, nanos: 1_000_000_000 },
    ]);
  }

  private map(field: protobuf.MapField, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const count = this.random.chance(0.05) ? 300 : this.random.int(4);
    for (let i = 0; i < count; i++) {
      const key = this.random.chance(0.9) ? this.random.pick(['a', 'b', 'containerd.io/gc.root', 'containerd.io/gc.ref.content.x', `k${i}`]) : this.random.pick(STRINGS);
      out[key] = field.resolvedType instanceof protobuf.Type ? this.message(field.resolvedType, depth + 1) : this.scalar(field.type);
    }
    return out;
  }

  private value(field: protobuf.Field, depth: number): unknown {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) return this.message(resolved, depth + 1);
    if (resolved instanceof protobuf.Enum) {
      const values = Object.values(resolved.values);
      return this.random.chance(0.9) ? this.random.pick(values) : 99;
    }
    return this.scalar(field.type);
  }

  private scalar(kind: string): unknown {
    switch (kind) {
      case 'string':
        return this.random.pick(STRINGS);
      case 'bytes':
        return this.random.chance(0.02) ? this.random.bytes(70_000) : this.random.bytes(this.random.int(48));
      case 'bool':
        return this.random.chance(0.5);
      case 'double':
      case 'float':
        return this.random.pick([0, -1, 1.5, Number.MAX_VALUE, Number.NaN]);
      case 'uint32':
      case 'fixed32':
        return this.random.pick([0, 1, 4096, 2 ** 32 - 1]);
      case 'int32':
      case 'sint32':
      case 'sfixed32':
        return this.random.pick([0, 1, -1, 2 ** 31 - 1, -(2 ** 31)]);
      default:
        return this.random.pick(INTEGERS);
    }
  }
}
