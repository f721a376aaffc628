// OCI descriptors as they appear in image JSON (camelCase) and on containerd's wire (snake_case).

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
  readonly 'os.version'?: string;
  readonly 'os.features'?: readonly string[];
}

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly urls?: readonly string[];
  readonly annotations?: Readonly<Record<string, string>>;
  readonly platform?: Platform;
}

/** containerd.types.Descriptor: what the Images and Diff services carry. */
export interface WireDescriptor {
  media_type?: string;
  digest?: string;
  size?: number | string;
  annotations?: Record<string, string>;
}

export const toWire = (d: Descriptor): WireDescriptor => ({
  media_type: d.mediaType,
  digest: d.digest,
  size: d.size,
  annotations: { ...(d.annotations ?? {}) },
});

export const fromWire = (d: WireDescriptor | undefined): Descriptor => {
  const annotations = d?.annotations && Object.keys(d.annotations).length > 0 ? { annotations: d.annotations } : {};
  return { mediaType: d?.media_type ?? '', digest: d?.digest ?? '', size: Number(d?.size ?? 0), ...annotations };
};

/** The descriptor as image JSON writes it: no empty optional fields. */
export function toJson(d: Descriptor): Record<string, unknown> {
  const out: Record<string, unknown> = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.urls?.length) out.urls = d.urls;
  if (d.annotations && Object.keys(d.annotations).length > 0) out.annotations = d.annotations;
  if (d.platform) out.platform = d.platform;
  return out;
}
