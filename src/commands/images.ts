import { imageStream, newEvent, type ImageTarget } from '../events/index.js';
import { imagesIn, type ImagesState, type ImageView, type ProjectionRunner } from '../projections/index.js';
import { alreadyExists, invalidArgument, notFound } from '../util/errdefs.js';
import { isValidDigest } from '../util/digest.js';
import { validateLabels, withoutEmptyValues } from '../util/labels.js';
import { decideAndAppend, expectedVersion, type CommandContext, type RequestMeta } from './context.js';
import { NO_COLLECTOR, type GcTrigger } from './gc-trigger.js';

export interface ImageInput {
  readonly name: string;
  readonly labels?: Record<string, string>;
  readonly target?: Partial<ImageTarget>;
}

/** containerd's validateImage (metadata/images.go), as messages that name the field. */
function validImage(image: ImageInput): { name: string; labels: Record<string, string>; target: ImageTarget } {
  if (!image.name) throw invalidArgument('Image.Name required');
  validateLabels(image.labels, 'Image.Labels');
  const target = image.target ?? {};
  if (!isValidDigest(target.digest ?? '')) throw invalidArgument(`Target.Digest "${target.digest ?? ''}" invalid: must be <algorithm>:<hex>`);
  if (!(Number(target.size) > 0)) throw invalidArgument('Target.Size must be greater than zero');
  if (!target.mediaType) throw invalidArgument('Target.MediaType must be set');
  return {
    name: image.name,
    labels: withoutEmptyValues(image.labels),
    target: {
      mediaType: target.mediaType,
      digest: target.digest!,
      size: Number(target.size),
      annotations: withoutEmptyValues(target.annotations),
    },
  };
}

export class ImageCommands {
  constructor(
    private readonly ctx: CommandContext,
    private readonly view: ProjectionRunner<ImagesState>,
    /** Serves `sync` deletions: they wait for the next collection. */
    private readonly gc: GcTrigger = NO_COLLECTOR,
  ) {}

  async create(namespace: string, input: ImageInput, meta: RequestMeta): Promise<ImageView> {
    const image = validImage(input);
    return decideAndAppend(this.ctx, () => {
      if (this.get(namespace, image.name)) throw alreadyExists(`image "${image.name}"`);
      return {
        events: [newEvent('ImageCreated', namespace, imageStream(image.name), image, meta)],
        expected: [expectedVersion(this.ctx, this.view.state, namespace, imageStream(image.name))],
        result: undefined,
      };
    }).then(() => this.get(namespace, image.name)!);
  }

  /**
   * containerd's rules: with a mask, `labels`, `labels.<k>`, `target`, `annotations` and
   * `annotations.<k>` take the request's values; without one the request replaces the image.
   */
  async update(namespace: string, input: ImageInput, paths: readonly string[], meta: RequestMeta): Promise<ImageView> {
    if (!input.name) throw invalidArgument('Image.Name required');
    return decideAndAppend(this.ctx, () => {
      const current = this.get(namespace, input.name);
      if (!current) throw notFound(`image "${input.name}"`);
      let next: ImageInput = input;
      if (paths.length > 0) {
        const labels = { ...current.labels };
        let target: { -readonly [K in keyof ImageTarget]: ImageTarget[K] } = { ...current.target, annotations: { ...current.target.annotations } };
        for (const path of paths) {
          if (path.startsWith('labels.')) {
            const key = path.slice('labels.'.length);
            labels[key] = input.labels?.[key] ?? '';
          } else if (path.startsWith('annotations.')) {
            const key = path.slice('annotations.'.length);
            target.annotations[key] = input.target?.annotations?.[key] ?? '';
          } else if (path === 'labels') {
            Object.keys(labels).forEach((k) => delete labels[k]);
            Object.assign(labels, input.labels ?? {});
          } else if (path === 'target') {
            target = { ...target, ...(input.target as ImageTarget), annotations: input.target?.annotations ?? {} };
          } else if (path === 'annotations') {
            target.annotations = { ...(input.target?.annotations ?? {}) };
          } else {
            throw invalidArgument(`cannot update "${path}" field on image "${input.name}"`);
          }
        }
        next = { name: input.name, labels, target };
      }
      const image = validImage(next);
      return {
        events: [newEvent('ImageUpdated', namespace, imageStream(image.name), image, meta)],
        expected: [expectedVersion(this.ctx, this.view.state, namespace, imageStream(image.name))],
        result: undefined,
      };
    }).then(() => this.get(namespace, input.name)!);
  }

  async delete(namespace: string, name: string, sync: boolean, meta: RequestMeta): Promise<void> {
    await decideAndAppend(this.ctx, () => {
      if (!this.get(namespace, name)) throw notFound(`image "${name}"`);
      return {
        events: [newEvent('ImageDeleted', namespace, imageStream(name), { name }, meta)],
        expected: [expectedVersion(this.ctx, this.view.state, namespace, imageStream(name))],
        result: undefined,
      };
    });
    if (sync) await this.gc.scheduleAndWait();
  }

  get(namespace: string, name: string): ImageView | undefined {
    return this.view.state.live[namespace]?.[name];
  }

  list(namespace: string): ImageView[] {
    return imagesIn(this.view.state, namespace);
  }

}
