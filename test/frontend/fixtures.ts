/** Shared test inputs for the frontend tests: platforms, a fake base-image resolver, plan options and parsed Dockerfiles. */
import type { ContainerConfig, Platform } from '../../src/image/types.js';
import { parseDockerfile, parseInstructions, ShellLexer, type DockerfileDefinition, type PlanOptions, type ResolvedImage } from '../../src/frontend/index.js';
import { Linter } from '../../src/frontend/checks.js';
import { emptyCheckConfig } from '../../src/frontend/directives.js';
import type { DockerfileSource } from '../../src/frontend/source.js';

export const amd64: Platform = { os: 'linux', architecture: 'amd64' };
export const arm64: Platform = { os: 'linux', architecture: 'arm64' };

export const BASE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface FakeImage {
  config?: ContainerConfig;
  /** The platform the image really has; default: the one asked for. */
  platform?: Platform;
}

/** Stands in for the engine's resolver: known images by repository name, with the calls it received. */
export function fakeResolver(images: Record<string, FakeImage> = {}): PlanOptions['resolveImage'] & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (ref: string, platform: Platform): Promise<ResolvedImage> => {
    calls.push(`${ref} ${platform.os}/${platform.architecture}`);
    const repository = ref.replace(/^docker\.io\/library\//, '').replace(/[:@].*$/, '');
    const image = images[repository] ?? { config: { Env: [`PATH=${BASE_PATH}`], Cmd: ['/bin/sh'] } };
    return {
      ref,
      digest: `sha256:${'0'.repeat(63)}1`,
      platform: image.platform ?? platform,
      config: structuredClone(image.config ?? {}),
    };
  };
  return Object.assign(resolve, { calls });
}

export function planOptions(overrides: Partial<PlanOptions> = {}): PlanOptions {
  return {
    file: 'Dockerfile',
    buildArgs: {},
    targetPlatform: amd64,
    buildPlatform: amd64,
    resolveImage: fakeResolver(),
    ...overrides,
  };
}

/** A Dockerfile read up to its typed instructions, for the tests of single planning phases. */
export interface ParsedForPhases {
  definition: DockerfileDefinition;
  source: DockerfileSource;
  lexer: ShellLexer;
  lint: Linter;
}

export function parsedForPhases(text: string): ParsedForPhases {
  const parsed = parseDockerfile(text, 'Dockerfile');
  const lint = Linter.create(emptyCheckConfig(), parsed.source);
  return { definition: parseInstructions(parsed, lint), source: parsed.source, lexer: new ShellLexer({ escapeToken: parsed.escapeToken }), lint };
}
