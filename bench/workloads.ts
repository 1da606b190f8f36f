/**
 * The generated workloads. Each writes a build context (Dockerfile included) whose base is
 * `busybox:latest`, the one image every tool's state holds before a cold build (one per platform,
 * joined under that name, for a multi-platform workload), and knows which one source file to change
 * for the one-file-change scenario.
 *
 * A workload names the tools it compares and the baseline its ratios are taken against: the
 * multi-platform build compares gantry with `buildah build --platform ... --manifest`, as BuildKit
 * cannot take part in it here.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ToolName } from './options.js';

export const SCENARIOS = ['cold', 'noop', 'change'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const SCENARIO_LABELS: Readonly<Record<Scenario, string>> = {
  cold: 'cold',
  noop: 'no-op',
  change: 'one-file change',
};

export interface Workload {
  readonly name: string;
  readonly summary: string;
  readonly tools: readonly ToolName[];
  readonly baseline: ToolName;
  /** Largest acceptable ratio of gantry's median to the baseline's, per scenario. */
  readonly targets: Readonly<Record<Scenario, number>>;
  /** The context's files (Dockerfile included): relative path → content. */
  files(): Iterable<[string, string]>;
  /** The source file the one-file-change scenario edits. */
  readonly changedFile: string;
  /** Target platforms of every build; absent: each tool's default, this machine's. */
  readonly platforms?: readonly string[];
  /** Why a tool takes no part, for each tool left out. */
  readonly leftOut?: Readonly<Partial<Record<ToolName, string>>>;
  /** What the harness checks in each platform's image after every build. */
  readonly check?: ImageCheck;
}

/** A script run in each platform's image of a build, and the output a right build gives. */
export interface ImageCheck {
  readonly script: string;
  expectedOutput(platform: string, hostPlatform: string): string;
}

const ALL_TOOLS: readonly ToolName[] = ['gantry', 'buildah', 'buildkit'];
/** The issue's targets for every workload: no-op ≤ 0.5×, one-file change ≤ 0.7×, cold ≤ 1.0×. */
const DEFAULT_TARGETS: Readonly<Record<Scenario, number>> = { cold: 1.0, noop: 0.5, change: 0.7 };

/** `src/moduleMM/unitUU.c` files, `modules` × `unitsPerModule` of them, of 40–99 lines each. */
function* sourceTree(modules: number, unitsPerModule: number): Generator<[string, string]> {
  for (let module = 0; module < modules; module++) {
    for (let unit = 0; unit < unitsPerModule; unit++) {
      const name = `module${pad(module)}/unit${pad(unit)}.c`;
      yield [`src/${name}`, sourceText(name, 40 + ((module * unitsPerModule + unit) % 60))];
    }
  }
}

/** `count` lines of text that differ per `seed`, so files do not deduplicate into one. */
function sourceText(seed: string, count: number): string {
  let text = '';
  for (let line = 0; line < count; line++) text += `${seed} line ${line}: ${(line * 2654435761) % 1000003}\n`;
  return text;
}

/** Writes files (relative path → content), creating their directories, a few at a time. */
async function writeTree(dir: string, files: Iterable<[string, string]>): Promise<number> {
  const made = new Set<string>();
  let pending: Promise<void>[] = [];
  let count = 0;
  for (const [path, content] of files) {
    const full = join(dir, path);
    const parent = dirname(full);
    if (!made.has(parent)) {
      await Promise.all(pending);
      pending = [];
      await mkdir(parent, { recursive: true });
      made.add(parent);
    }
    pending.push(writeFile(full, content));
    count++;
    if (pending.length >= 64) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  return count;
}

/** Gives the workload's changed file content it has not had before: a line naming the round. */
export async function changeOneFile(workload: Workload, dir: string, round: number): Promise<void> {
  const path = join(dir, workload.changedFile);
  // Read first: a missing file is an error, not a new file.
  await writeFile(path, `${await readFile(path, 'utf8')}edit ${round}\n`);
}

const twoStage: Workload = {
  name: 'two-stage',
  summary: 'two stages: the first bundles 200 source files with a RUN, the second copies the result',
  tools: ALL_TOOLS,
  baseline: 'buildkit',
  targets: DEFAULT_TARGETS,
  files: twoStageFiles,
  changedFile: 'src/module07/unit13.c',
};

function* twoStageFiles(): Generator<[string, string]> {
  yield [
    'Dockerfile',
    `FROM busybox:latest AS build
WORKDIR /src
COPY src/ ./
RUN mkdir /out && find . -type f | sort | xargs cat > /out/program.txt && wc -c /out/program.txt > /out/size.txt

FROM busybox:latest
COPY --from=build /out/ /app/
CMD ["cat", "/app/size.txt"]
`,
  ];
  yield* sourceTree(10, 20);
}

/** 30,000 files: 6,000 under app/ (500 of them *.log, ignored), 20,000 under node_modules/ and 4,000 under .cache/ (ignored). */
const largeContext: Workload = {
  name: 'large-context',
  summary: '30,000-file context, 24,500 of them excluded by .dockerignore; COPY . . and a small RUN',
  tools: ALL_TOOLS,
  baseline: 'buildkit',
  targets: DEFAULT_TARGETS,
  files: largeContextFiles,
  changedFile: 'app/pkg17/file042.js',
};

function* largeContextFiles(): Generator<[string, string]> {
  yield [
    'Dockerfile',
    `FROM busybox:latest
WORKDIR /app
COPY . .
RUN find . -type f | wc -l > /file-count
`,
  ];
  yield ['.dockerignore', 'node_modules\n.cache\n**/*.log\n'];
  for (let pkg = 0; pkg < 60; pkg++) {
    for (let file = 0; file < 100; file++) {
      const extension = (pkg * 100 + file) % 12 === 11 ? 'log' : 'js';
      const path = `app/pkg${pad(pkg)}/file${pad(file, 3)}.${extension}`;
      yield [path, sourceText(path, 4 + (file % 30))];
    }
  }
  for (let dep = 0; dep < 200; dep++) {
    for (let file = 0; file < 100; file++) {
      const path = `node_modules/dep${pad(dep, 3)}/lib/file${pad(file, 3)}.js`;
      yield [path, sourceText(path, 2 + (file % 20))];
    }
  }
  for (let bucket = 0; bucket < 40; bucket++) {
    for (let file = 0; file < 100; file++) {
      const path = `.cache/${pad(bucket)}/${pad(file, 3)}.bin`;
      yield [path, sourceText(path, 3)];
    }
  }
}

const parallelStages: Workload = {
  name: 'parallel-stages',
  summary: 'four independent stages, each a COPY and a one-second RUN, gathered by a final stage',
  tools: ALL_TOOLS,
  baseline: 'buildkit',
  // "four parallel stages ≤ 1.0×" is the cold target; the rebuild targets are everyone's.
  targets: DEFAULT_TARGETS,
  files: parallelStageFiles,
  changedFile: 'input3.txt',
};

function* parallelStageFiles(): Generator<[string, string]> {
  const stages = [1, 2, 3, 4];
  const dockerfile = stages.map(
    (n) => `FROM busybox:latest AS stage${n}
COPY input${n}.txt /
RUN sleep 1 && sha256sum /input${n}.txt > /result${n}.txt
`,
  );
  dockerfile.push(`FROM busybox:latest
${stages.map((n) => `COPY --from=stage${n} /result${n}.txt /results/`).join('\n')}
`);
  yield ['Dockerfile', dockerfile.join('\n')];
  for (const n of stages) yield [`input${n}.txt`, sourceText(`input${n}`, 10)];
}

const largeLayer: Workload = {
  name: 'large-layer',
  summary: 'one RUN writing 512 MiB (256 MiB random, 256 MiB zeros), then a COPY of a small file',
  tools: ALL_TOOLS,
  baseline: 'buildkit',
  targets: { ...DEFAULT_TARGETS, cold: 0.6 },
  files: () => [
    [
      'Dockerfile',
      `FROM busybox:latest
RUN dd if=/dev/urandom of=/random.bin bs=1M count=256 2>/dev/null && dd if=/dev/zero of=/zeros.bin bs=1M count=256 2>/dev/null
COPY app.txt /app.txt
`,
    ],
    ['app.txt', sourceText('app', 20)],
  ],
  changedFile: 'app.txt',
};

/** What `uname -m` says on each platform the workloads build for. */
const MACHINE_NAMES: Readonly<Record<string, string>> = { 'linux/amd64': 'x86_64', 'linux/arm64': 'aarch64' };

function machineName(platform: string): string {
  const name = MACHINE_NAMES[platform];
  if (name === undefined) throw new Error(`no machine name known for ${platform}`);
  return name;
}

/**
 * Two platforms from busybox bases of each architecture: a `FROM --platform=$BUILDPLATFORM` stage
 * (the cross-compilation pattern: it runs natively and builds for `TARGETARCH`) whose output the
 * final stage copies, after a RUN that runs under QEMU for the foreign platform. The final stage's
 * `--platform=$TARGETPLATFORM` is what `FROM` does anyway; Buildah 1.28 needs it spelled out, or
 * the build stage's platform carries over into the stages after it (fixed in Buildah 1.40).
 */
const multiPlatform: Workload = {
  name: 'multi-platform',
  summary: 'linux/amd64 and linux/arm64: a build-platform stage bundling 100 source files per target, a RUN under QEMU for arm64, COPY --from',
  tools: ['gantry', 'buildah'],
  baseline: 'buildah',
  // The issue's goal for this workload: gantry ≤ 0.7× Buildah, in every scenario.
  targets: { cold: 0.7, noop: 0.7, change: 0.7 },
  files: multiPlatformFiles,
  changedFile: 'src/module03/unit07.c',
  platforms: ['linux/amd64', 'linux/arm64'],
  leftOut: {
    buildkit:
      "Debian's Docker engine 20.10 builds one platform at a time (`--platform linux/amd64,linux/arm64` is refused as an invalid platform) " +
      'and its image store cannot hold a multi-platform image',
  },
  check: {
    // The image's own machine, where its RUN ran, where the build stage ran, and what it built for.
    script: 'echo "$(uname -m) $(cat /arch) $(cat /app/build-arch) $(cat /app/target)"',
    expectedOutput: (platform, hostPlatform) =>
      `${machineName(platform)} ${machineName(platform)} ${machineName(hostPlatform)} ${platform.split('/')[1]}\n`,
  },
};

function* multiPlatformFiles(): Generator<[string, string]> {
  yield [
    'Dockerfile',
    `FROM --platform=$BUILDPLATFORM busybox:latest AS build
ARG TARGETARCH
WORKDIR /src
COPY src/ ./
RUN mkdir /out && uname -m > /out/build-arch && echo "$TARGETARCH" > /out/target && find . -type f | sort | xargs cat | gzip -9 > /out/app-$TARGETARCH.gz

FROM --platform=$TARGETPLATFORM busybox:latest
RUN uname -m > /arch && seq 1 200000 > /numbers && gzip -9 /numbers && sha256sum /numbers.gz > /numbers.sha256
COPY --from=build /out/ /app/
CMD ["cat", "/arch"]
`,
  ];
  yield* sourceTree(10, 10);
}

export const WORKLOADS: readonly Workload[] = [twoStage, largeContext, parallelStages, largeLayer, multiPlatform];

export function dockerfileOf(workload: Workload): string {
  const dockerfile = new Map(workload.files()).get('Dockerfile');
  if (dockerfile === undefined) throw new Error(`workload ${workload.name} has no Dockerfile`);
  return dockerfile;
}

/** Writes a workload's context into `dir` (which need not exist); returns the number of files. */
export function generateContext(workload: Workload, dir: string): Promise<number> {
  return writeTree(dir, workload.files());
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}
