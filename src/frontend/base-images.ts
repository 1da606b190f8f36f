/**
 * Base images: what FROM of an image or of scratch gives a node of the stage graph, resolved through the
 * `resolveImage` callback of the plan options (once per reference and platform), with BuildKit's
 * InvalidBaseImagePlatform check, and the plan input of an image read by COPY --from or a mount.
 */
import { GantryError } from '../util/index.js';
import { DEFAULT_PATH, formatPlatformAll, normalizePlatform, normalizeReference, type Platform } from '../image/index.js';
import { Messages, Rules, type Linter } from './checks.js';
import type { ImageResolver, ResolvedImage, StepInput } from './plan-types.js';
import type { DockerfileSource } from './source.js';
import { unsetArgsHint, type StageGraph, type StageNode } from './stage-graph.js';
import { cloneConfig, type BaseStart } from './stage-state.js';
import { suggest } from './suggest.js';

/** What FROM gave a node: the image (none for scratch), the platform and OS, and the config to start from. */
export interface ResolvedBase extends BaseStart {
  image?: ResolvedImage;
}

const COMMON_IMAGE_NAMES = ['alpine', 'busybox', 'centos', 'debian', 'golang', 'ubuntu', 'fedora'].flatMap((name) => [
  name,
  `${name}:latest`,
]);

export class BaseImages {
  private readonly bases = new Map<StageNode, ResolvedBase>();
  private readonly resolutions = new Map<string, Promise<ResolvedImage>>();

  constructor(
    private readonly graph: StageGraph,
    private readonly resolveImage: ImageResolver,
    /** The platform of a FROM without --platform, and of scratch. */
    private readonly targetPlatform: Platform,
    private readonly source: DockerfileSource,
    private readonly lint: Linter,
  ) {}

  /**
   * Resolves the bases of `nodes` not resolved yet (nodes built on a stage have none), in parallel.
   * Throws a GantryError located at the FROM, or at the first instruction reading an image.
   */
  async resolve(nodes: Iterable<StageNode>): Promise<void> {
    const pending: Array<Promise<void>> = [];
    for (const node of nodes) if (!node.base && !this.bases.has(node)) pending.push(this.resolveNode(node));
    await Promise.all(pending);
  }

  /** What FROM gave `node`, once resolved. */
  get(node: StageNode): ResolvedBase | undefined {
    return this.bases.get(node);
  }

  /** The plan input of an image only read from; throws a GantryError for scratch, which has no files. */
  input(image: StageNode, line: number, what: string): StepInput {
    if (image.baseName === 'scratch') {
      throw this.source.error(`${what}: scratch has no files`, line, { hint: 'name a stage or an image that has the files' });
    }
    const resolved = this.bases.get(image)?.image;
    if (!resolved) throw new Error(`image ${image.baseName} read by line ${line} was not resolved`);
    return { kind: 'image', ref: pinnedReference(resolved) };
  }

  private async resolveNode(node: StageNode): Promise<void> {
    if (node.baseName === 'scratch') {
      this.bases.set(node, { platform: this.targetPlatform, os: this.targetPlatform.os, config: { Env: [`PATH=${DEFAULT_PATH}`], WorkingDir: '/' } });
      return;
    }
    const line = node.definition?.line ?? this.graph.lineReading(node);
    const needle = node.definition ? node.definition.baseName : node.baseName;
    let ref: string;
    try {
      ref = normalizeReference(node.baseName);
    } catch (err) {
      if (!(err instanceof GantryError)) throw err;
      const lower = node.baseName.toLowerCase();
      const stageHint = this.graph.stage(lower) ? `stage names are lower case: write ${lower}` : undefined;
      throw this.source.error(`failed to parse stage name "${node.baseName}": ${err.message}`, line, {
        needle,
        hint: stageHint ?? unsetArgsHint(node.unsetInFrom) ?? 'image names are lower case, like alpine:3.20 or ghcr.io/org/app:tag',
      });
    }
    const platform = node.platform ?? this.targetPlatform;
    let image: ResolvedImage;
    try {
      image = await this.resolveOnce(ref, platform);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const close = suggest(node.baseName, [...this.graph.stageNames(), ...COMMON_IMAGE_NAMES], true);
      throw this.source.error(`${node.baseName}: ${message}`, line, {
        needle,
        hint: close ? `did you mean ${close}?` : err instanceof GantryError ? err.hint : undefined,
        cause: err,
      });
    }
    this.bases.set(node, { image, platform, os: image.platform.os || platform.os, config: cloneConfig(image.config) });
    const expected = normalizePlatform(platform);
    const actual = normalizePlatform(image.platform);
    if (expected.os !== actual.os || expected.architecture !== actual.architecture) {
      this.lint.run(
        Rules.InvalidBaseImagePlatform,
        line,
        Messages.invalidBaseImagePlatform(node.baseName, formatPlatformAll(expected), formatPlatformAll(actual)),
      );
    }
  }

  /** The resolver, called once per reference and platform. */
  private resolveOnce(ref: string, platform: Platform): Promise<ResolvedImage> {
    const key = `${ref} ${formatPlatformAll(platform)}`;
    let pending = this.resolutions.get(key);
    if (!pending) {
      pending = this.resolveImage(ref, platform);
      this.resolutions.set(key, pending);
    }
    return pending;
  }
}

/** The reference with its digest, so what was planned is what is built. */
function pinnedReference(image: ResolvedImage): string {
  return image.ref.includes('@') ? image.ref : `${image.ref}@${image.digest}`;
}
