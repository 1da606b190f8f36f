/**
 * Hostile archives and images fed to gantry the ways users feed it files: `ADD` of a local archive
 * (extracted) and of an http URL (downloaded), `gantry load` (docker archives and OCI layouts, as
 * directories and plain or compressed tars) and `gantry import`. Inputs: layer tars that try to leave
 * the root (absolute and `../` names, writes through symlinks, hardlinks out), device nodes, setuid
 * files, garbage in every header field, PAX and GNU extensions, truncation and byte flips; image
 * documents mutated field by field; decompression bombs. After each trial: the outcome, the peak
 * memory, the store (verified and clean), the sentinel directory and marked names outside the store;
 * now and then, that a known-good image still runs.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Random, judgeOutcome, lastLines, runGantry, type CommandOutcome } from '../lib.js';
import { createLab, mustSucceed } from './faults-support.js';
import type { AttackSuite, Finding, SuiteOptions, SuiteResult } from '../suite.js';
import { makeBomb, type Bomb } from '../hostile/bombs.js';
import { describeTree, MemoryWatch, treeDifference } from '../hostile/host-checks.js';
import { startAnswerServer, type Answer, type AnswerServer } from '../hostile/http-server.js';
import { buildArchive, pickContainer, writeArchive, type Container, type Level, type LayerInput } from '../hostile/images.js';
import { flippedLayer, hostileLayer, truncatedLayer, type EscapeTargets, type HostileLayer } from '../hostile/layers.js';
import { COMPRESSIONS, compress, compressionSuffix, type Compression } from '../hostile/tar.js';
import { judgeHost, judgeStore, judgeTrial, newHostGuard, RouteTally, storeWatchDirs, type HostGuard } from '../hostile/trial-judge.js';

const GOOD_IMAGE = 'busybox:latest';
/** Trials between checks that the known-good image still runs (and the store is pruned). */
const HEALTH_EVERY = 25;
const TRIAL_TIMEOUT_MS = 30_000;
const BOMB_TIMEOUT_MS = 180_000;

type Route = 'add-local' | 'add-url' | 'import' | 'load-layer' | 'load-document' | 'bomb';
const ROUTE_WEIGHTS: Array<[Route, number]> = [
  ['add-local', 22],
  ['add-url', 8],
  ['import', 20],
  ['load-layer', 15],
  ['load-document', 35],
];

interface Worker {
  id: number;
  root: string;
  dir: string;
  guard: HostGuard;
  targets: EscapeTargets;
  since: number;
}

/** What a trial did: the command's outcome, and what the trial itself found wrong beyond it. */
interface TrialRun {
  outcome: CommandOutcome & { peakBytes: number };
  problems: Array<Pick<Finding, 'kind' | 'detail'>>;
}

interface Trial {
  label: string;
  route: Route;
  run(worker: Worker, dir: string): Promise<TrialRun>;
  /** Commands that read back what a successful trial stored (`dir`: the trial's directory); each must succeed or fail cleanly too. */
  readBack?: (dir: string) => string[][];
}

interface Context {
  server: AnswerServer;
  bombs: Map<string, Bomb>;
}

function pickRoute(rng: Random): Route {
  let n = rng.next() * ROUTE_WEIGHTS.reduce((sum, [, w]) => sum + w, 0);
  for (const [route, weight] of ROUTE_WEIGHTS) if ((n -= weight) < 0) return route;
  return 'load-document';
}

function pickLayer(rng: Random, targets: EscapeTargets): HostileLayer {
  const r = rng.next();
  if (r < 0.72) return hostileLayer(rng, targets);
  return r < 0.86 ? flippedLayer(rng, targets) : truncatedLayer(rng, targets);
}

function pickCompression(rng: Random): Compression {
  return rng.next() < 0.4 ? 'none' : rng.pick(COMPRESSIONS);
}

/** Runs gantry watching its memory. */
async function gantry(worker: Worker, args: string[], timeoutMs: number): Promise<TrialRun> {
  const watch = new MemoryWatch();
  const outcome = await runGantry(worker.root, args, { timeoutMs, onSpawn: (pid) => watch.start(pid) });
  return { outcome: { ...outcome, peakBytes: await watch.stop() }, problems: [] };
}

/** A build of `dockerfile` in a fresh context holding `files`; the context must be left as it was. */
async function buildIn(worker: Worker, dir: string, dockerfile: string, files: Record<string, Buffer>, timeoutMs: number): Promise<TrialRun> {
  const context = join(dir, 'context');
  await mkdir(context, { recursive: true });
  for (const [name, content] of Object.entries(files)) await writeFile(join(context, name), content);
  await writeFile(join(context, 'Dockerfile'), dockerfile);
  const before = await describeTree(context);
  const result = await gantry(worker, ['build', '--progress', 'plain', context], timeoutMs);
  const changed = treeDifference(before, await describeTree(context));
  if (changed.length > 0) result.problems.push({ kind: 'escape', detail: `the build context changed: ${changed.slice(0, 3).join(' | ')}` });
  return result;
}

/** An import that succeeded must have applied its layer: docker import refuses a tar it cannot apply. */
async function importing(worker: Worker, file: string, timeoutMs: number): Promise<TrialRun> {
  const result = await gantry(worker, ['import', file, 'imported:latest'], timeoutMs);
  if (result.outcome.code === 0 && /could not be unpacked/.test(result.outcome.stderr)) {
    result.problems.push({ kind: 'corrupt', detail: `the image was named though its layer cannot be applied: ${lastLines(result.outcome.stderr, 2)}` });
  }
  return result;
}

function addLocalTrial(rng: Random, targets: EscapeTargets): Trial {
  const layer = pickLayer(rng, targets);
  const how = pickCompression(rng);
  const file = `evil.tar${compressionSuffix(how)}`;
  const base = rng.next() < 0.7 ? 'scratch' : GOOD_IMAGE;
  const chown = rng.next() < 0.15 ? '--chown=1000:1000 ' : '';
  const dest = rng.pick(['/dst/', '/', '/dst/sub/']);
  const bytes = compress(layer.tar, how);
  return {
    label: `ADD ${chown}${file} ${dest} (FROM ${base}): ${layer.label}`,
    route: 'add-local',
    run: (worker, dir) => buildIn(worker, dir, `FROM ${base}\nADD ${chown}${file} ${dest}\n`, { [file]: bytes }, TRIAL_TIMEOUT_MS),
  };
}

function addUrlTrial(rng: Random, targets: EscapeTargets, ctx: Context, index: number): Trial {
  const layer = pickLayer(rng, targets);
  const body = compress(layer.tar, pickCompression(rng));
  const names = ['evil.tar', '%zz', 'a%00b', '..%2f..%2fx', '%2e%2e/%2e%2e/x', 'x?y=../../z', 'a'.repeat(3000), 'dir/', '%C3%BCn%C3%AF', '%ff%fe', '%2F', 'x%5c..%5c..%5cy', '.'];
  const name = rng.pick(names);
  const path = `/t${index}/${name}`;
  const answers: Array<[string, Answer]> = [
    ['a tar', { kind: 'body', body }],
    ['a tar with odd headers', { kind: 'body', body, headers: { 'last-modified': rng.pick(['Sat, 01 Jan 275760 00:00:00 GMT', 'garbage', 'Thu, 01 Jan 1970 00:00:00 GMT', '-1']), 'content-disposition': `attachment; filename="../../../${targets.marker}"`, 'content-type': 'application/x-tar' } }],
    ['a gzip Content-Encoding', { kind: 'body', body: compress(body, 'gzip'), headers: { 'content-encoding': 'gzip' } }],
    ['a body cut short', { kind: 'short', body: body.subarray(0, body.length >> 1), declared: body.length }],
    ['a redirect', { kind: 'redirect', status: rng.pick([301, 302, 307, 308]), location: rng.pick(['file:///etc/passwd', `file://${targets.sentinel}/file`, 'ftp://127.0.0.1/x', 'data:text/plain,hello', 'http://127.0.0.1:1/', path, 'javascript:alert(1)', 'http://[::1', `${ctx.server.base}/t${index}/next`]) }],
    ['a dropped connection', { kind: 'drop' }],
    ['an error status', { kind: 'body', status: rng.pick([204, 304, 404, 500, 999]), body: Buffer.from('nope') }],
  ];
  const [what, answer] = rng.pick(answers);
  ctx.server.set(path, answer);
  ctx.server.set(`/t${index}/next`, { kind: 'redirect', status: 302, location: path });
  const checksum = rng.next() < 0.15 ? `--checksum=${rng.pick(['sha256:' + '0'.repeat(64), 'sha256:../x', 'md5:abc'])} ` : '';
  const url = `${ctx.server.base}${path}`;
  return {
    label: `ADD ${checksum}${url.slice(0, 80)} answering ${what}: ${layer.label}`,
    route: 'add-url',
    run: (worker, dir) => buildIn(worker, dir, `FROM scratch\nADD ${checksum}${url} /dst/\n`, {}, TRIAL_TIMEOUT_MS),
  };
}

function importTrial(rng: Random, targets: EscapeTargets): Trial {
  const layer = pickLayer(rng, targets);
  const how = pickCompression(rng);
  const bytes = compress(layer.tar, how);
  return {
    label: `import (${how}): ${layer.label}`,
    route: 'import',
    run: async (worker, dir) => {
      const file = join(dir, `rootfs.tar${compressionSuffix(how)}`);
      await writeFile(file, bytes);
      return importing(worker, file, TRIAL_TIMEOUT_MS);
    },
    readBack: readBackOf(rng, 'imported:latest'),
  };
}

/** A load of the archive `nodes` written as `container`; a tar container is now and then cut short or has a byte flipped. */
function loadTrial(rng: Random, label: string, route: Route, nodes: ReturnType<typeof buildArchive>['nodes'], container: Container, timeoutMs = TRIAL_TIMEOUT_MS): Trial {
  const damage = container === 'directory' ? 1 : rng.next();
  const cut = rng.next();
  const what = damage < 0.08 ? `, cut at ${Math.round(cut * 100)}%` : damage < 0.12 ? ', a byte flipped' : '';
  return {
    label: `load (${container}${what}): ${label}`,
    route,
    run: async (worker, dir) => {
      const path = await writeArchive(nodes, container, join(dir, 'archive'));
      if (what !== '') {
        const bytes = await readFile(path);
        const at = Math.floor(cut * bytes.length);
        if (damage < 0.08) await writeFile(path, bytes.subarray(0, at));
        else await writeFile(path, (bytes[at] ^= 0x5a, bytes));
      }
      return gantry(worker, ['load', path], timeoutMs);
    },
    readBack: readBackOf(rng, 'hostile:latest'),
  };
}

/** Commands that read a stored image back: the listing of every image, and now and then one of inspect, save and history. */
function readBackOf(rng: Random, name: string): (dir: string) => string[][] {
  const pick = rng.next() < 0.4 ? rng.int(3) : undefined;
  return (dir) => [['images'], ...(pick === undefined ? [] : [[['inspect', name], ['save', '-o', join(dir, 'saved.tar'), name], ['history', name]][pick]!])];
}

function loadLayerTrial(rng: Random, targets: EscapeTargets): Trial {
  const layer = pickLayer(rng, targets);
  const format = rng.next() < 0.5 ? 'oci' : 'docker';
  const layers: LayerInput[] = [{ tar: layer.tar, compression: rng.pick(['gzip', 'zstd', 'none'] as const) }];
  if (rng.next() < 0.3) layers.unshift({ tar: hostileLayer(rng, targets, 'setuid').tar });
  const built = buildArchive(rng, { format, layers, name: 'hostile:latest' }, targets);
  return loadTrial(rng, `${format} archive whose layer is ${layer.label}`, 'load-layer', built.nodes, pickContainer(rng));
}

const OCI_LEVELS: Level[] = ['config', 'manifest', 'index', 'index.json', 'oci-layout', 'layer', 'diff-id', 'links'];
const DOCKER_LEVELS: Level[] = ['config', 'manifest.json', 'layer', 'diff-id', 'links'];

function loadDocumentTrial(rng: Random, targets: EscapeTargets): Trial {
  const format = rng.next() < 0.6 ? 'oci' : 'docker';
  const mutate = rng.pick(format === 'oci' ? OCI_LEVELS : DOCKER_LEVELS);
  const built = buildArchive(
    rng,
    {
      format,
      layers: [{ tar: hostileLayer(rng, targets, 'setuid').tar }],
      multiPlatform: format === 'oci' && (mutate === 'index' || rng.next() < 0.2),
      dockerMediaTypes: rng.next() < 0.3,
      name: 'hostile:latest',
      mutate,
    },
    targets,
  );
  return loadTrial(rng, `${format} archive, ${built.label}`, 'load-document', built.nodes, pickContainer(rng));
}

/** `cheap`: only the routes that expand the bomb once (the bounded scale); ADD and import also write it out. */
function bombTrial(rng: Random, ctx: Context, targets: EscapeTargets, cheap: boolean): Trial {
  const route = rng.pick(cheap ? (['load-layer', 'load-container'] as const) : (['import', 'load-layer', 'add-local', 'load-container'] as const));
  const compression = rng.pick(['gzip', 'zstd'] as const);
  const key = `${compression} ${route === 'load-container' ? 'zeros' : 'tar'}`;
  let bomb = ctx.bombs.get(key);
  if (!bomb) ctx.bombs.set(key, (bomb = makeBomb(compression, route !== 'load-container')));
  const blob = bomb.blob;
  const label = `${compression} bomb (${blob.length} bytes → 1 GiB) via ${route}`;
  const base: Pick<Trial, 'label' | 'route'> = { label, route: 'bomb' };
  switch (route) {
    case 'import':
      return {
        ...base,
        run: async (worker, dir) => {
          await writeFile(join(dir, 'bomb.tar'), blob);
          return importing(worker, join(dir, 'bomb.tar'), BOMB_TIMEOUT_MS);
        },
      };
    case 'add-local':
      return { ...base, run: (worker, dir) => buildIn(worker, dir, 'FROM scratch\nADD bomb.tar /dst/\n', { 'bomb.tar': blob }, BOMB_TIMEOUT_MS) };
    case 'load-layer': {
      const built = buildArchive(rng, { format: rng.next() < 0.5 ? 'oci' : 'docker', layers: [{ tar: Buffer.alloc(0), blob, compression, diffId: bomb.diffId }], name: 'hostile:latest' }, targets);
      return { ...loadTrial(rng, label, 'bomb', built.nodes, 'directory', BOMB_TIMEOUT_MS), label };
    }
    default:
      return {
        ...base,
        run: async (worker, dir) => {
          const file = join(dir, `zeros.tar${compression === 'gzip' ? '.gz' : '.zst'}`);
          await writeFile(file, blob);
          return gantry(worker, ['load', file], BOMB_TIMEOUT_MS);
        },
      };
  }
}

function makeTrial(index: number, seed: number, bombAt: Set<number>, ctx: Context, targets: EscapeTargets, full: boolean): Trial {
  const rng = new Random(seed * 1_000_003 + index);
  if (bombAt.has(index)) return bombTrial(rng, ctx, targets, !full);
  switch (pickRoute(rng)) {
    case 'add-local':
      return addLocalTrial(rng, targets);
    case 'add-url':
      return addUrlTrial(rng, targets, ctx, index);
    case 'import':
      return importTrial(rng, targets);
    case 'load-layer':
      return loadLayerTrial(rng, targets);
    default:
      return loadDocumentTrial(rng, targets);
  }
}

/** The known-good image still runs and the store still lists and prunes. */
async function healthCheck(worker: Worker, input: string): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const args of [['run', GOOD_IMAGE, 'true'], ['images'], ['prune']]) {
    const failed = mustSucceed(await runGantry(worker.root, args, { timeoutMs: 60_000 }), `${input}, then gantry ${args.join(' ')}`);
    if (failed) findings.push(failed);
  }
  findings.push(...(await judgeStore(worker.root, `${input}, then prune`)));
  return findings;
}

async function run(options: SuiteOptions): Promise<SuiteResult> {
  const full = options.scale === 'full';
  const total = full ? 3000 : 90;
  const bombCount = full ? 16 : 1;
  const workerCount = 3;
  const bombAt = new Set(Array.from({ length: bombCount }, (_, i) => Math.floor(((i + 0.5) * total) / bombCount)));
  const ctx: Context = { server: await startAnswerServer(), bombs: new Map() };
  const findings: Finding[] = [];
  const routes = new RouteTally();
  let tried = 0;
  let handled = 0;
  let peakMax = 0;
  try {
    const workers = await Promise.all(
      Array.from({ length: workerCount }, async (_, id): Promise<Worker> => {
        const dir = join(options.workDir, `worker${id}`);
        const { root, work } = await createLab(dir);
        const marker = `gantry-hostile-marker-${options.seed}-${id}`;
        const sentinel = join(dir, 'sentinel');
        const guard = await newHostGuard(sentinel, marker, [...new Set([...storeWatchDirs(root), dir, work, sentinel])], {
          dir: options.workDir,
          skip: (path) => /^\/worker\d+\/store$/.test(path.slice(options.workDir.length)),
        });
        return { id, root, dir: work, guard, targets: { sentinel, marker }, since: 0 };
      }),
    );
    let next = 0;
    await Promise.all(
      workers.map(async (worker) => {
        for (let index = next++; index < total; index = next++) {
          const trial = makeTrial(index, options.seed, bombAt, ctx, worker.targets, full);
          const input = `trial ${index} (seed ${options.seed}): ${trial.label}`.slice(0, 400);
          const dir = join(worker.dir, `trial-${index}`);
          await mkdir(dir, { recursive: true });
          const { outcome, problems } = await trial.run(worker, dir);
          peakMax = Math.max(peakMax, outcome.peakBytes);
          const found = [...problems.map((p) => ({ ...p, input })), ...(await judgeTrial(worker.root, input, outcome, outcome.peakBytes)), ...(await judgeHost(worker.guard, input))];
          for (const args of outcome.code === 0 ? (trial.readBack?.(dir) ?? []) : []) {
            const readBack = await runGantry(worker.root, args, { timeoutMs: TRIAL_TIMEOUT_MS });
            // Listing the store must always work; inspecting or saving one image may fail, clearly (an artifact is no image).
            const verdict = args[0] === 'images' ? mustSucceed(readBack, `${input}, then gantry images`) : judgeOutcome(readBack, `${input}, then gantry ${args.join(' ')}`);
            if (verdict) found.push(verdict);
          }
          await rm(dir, { recursive: true, force: true });
          if (++worker.since >= HEALTH_EVERY || index + workerCount >= total) {
            worker.since = 0;
            found.push(...(await healthCheck(worker, input)));
          }
          routes.count(trial.route, outcome.code === 0);
          tried++;
          if (found.length === 0) handled++;
          else options.log(`finding in ${input}: ${found.map((f) => `${f.kind}: ${f.detail}`).join('; ').slice(0, 500)}`);
          findings.push(...found);
        }
      }),
    );
    // Nothing of the trials may be left in the work area but the workers' own directories.
    for (const worker of workers) {
      const left = await readdir(worker.dir);
      if (left.length > 0) findings.push({ kind: 'corrupt', input: 'after every trial', detail: `left in the work area: ${left.join(', ')}` });
    }
  } finally {
    await ctx.server.close();
  }
  const figures = { 'peak memory (MB)': Math.round(peakMax / 1048576), ...routes.figures() };
  return { unit: 'hostile archives and images', tried, handled, findings, figures };
}

const suite: AttackSuite = {
  name: 'hostile-archives',
  title: 'crafted tars, images and bombs through ADD (local and URL), load and import',
  needsRoot: true,
  run,
};

export default suite;
