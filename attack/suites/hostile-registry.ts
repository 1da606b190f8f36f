/**
 * A misbehaving registry: the real registry (CNCF distribution) behind a fault-injecting proxy, and
 * crafted content put straight into it (or served by the proxy where the registry refuses it):
 * documents mutated field by field, manifests whose blobs lie about size or digest, hostile layers,
 * poisoned build-cache artifacts. Exercised through `gantry pull`, `push`, `manifest inspect`, `build`
 * FROM such an image and `--cache-from type=registry` on the command line, and through pullImage and
 * pushImage in-process where short time limits and retries are needed. After each trial: the outcome,
 * the store (verified, no partial blob in ingest/ or tmp/), every name the command added reads back
 * through gantry's validating parsers, a push that succeeded is really in the registry, the layers a
 * build made match their diff IDs, and nothing escaped to the host.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startFaultProxy, type Fault, type FaultProxy, type FaultRule } from '../../test/registry/helpers/fault-proxy.js';
import { startRegistry, type RegistryServer } from '../../test/registry/helpers/registry-server.js';
import { closeRegistrySession, type RegistryOptions } from '../../src/registry/index.js';
import { pullImage, pushImage } from '../../src/app/registry-use-cases.js';
import { Store } from '../../src/store/store.js';
import { isGantryError } from '../../src/util/errors.js';
import { Random, lastLines, runGantry, type CommandOutcome } from '../lib.js';
import type { AttackSuite, Finding, SuiteOptions, SuiteResult } from '../suite.js';
import { MemoryWatch } from '../hostile/host-checks.js';
import { buildArchive, sha256, type Blob, type Level } from '../hostile/images.js';
import { hostileLayer, type EscapeTargets } from '../hostile/layers.js';
import { mutateDocument, type Json } from '../hostile/mutate.js';
import { isManifestBlob, putManifest, registryGet, registryHas, uploadBlob } from '../hostile/registry-raw.js';
import { judgeHost, judgeTrial, newHostGuard, RouteTally, storeWatchDirs, type HostGuard } from '../hostile/trial-judge.js';
import { createLab, gantryOk, readIndexNames } from './faults-support.js';

const TRIAL_TIMEOUT_MS = 60_000;
const IN_PROCESS_LIMIT_MS = 30_000;
const GOOD_REPO = 'good/busybox';
const CACHE_REPO = 'cache/app';
const isRoot = process.getuid?.() === 0;
/** Lanes run at once: a trial spends much of its time waiting on back-off and the network. */
const LANES = 3;

type Route = 'pull-crafted' | 'pull-fault' | 'pull-in-process' | 'push-fault' | 'push-in-process' | 'inspect-crafted' | 'build-from' | 'cache-from';
const ROUTE_WEIGHTS: Array<[Route, number, boolean]> = [
  ['pull-crafted', 28, false],
  ['pull-fault', 18, false],
  ['pull-in-process', 12, false],
  ['push-fault', 14, false],
  ['push-in-process', 6, false],
  ['inspect-crafted', 6, false],
  ['build-from', 8, true],
  ['cache-from', 10, true],
];

interface Lane {
  root: string;
  work: string;
  proxy: FaultProxy;
  guard: HostGuard;
  targets: EscapeTargets;
  env: NodeJS.ProcessEnv;
  store?: Store;
}

interface Shared {
  registry: RegistryServer;
  /** "http://127.0.0.1:PORT" of the registry itself, bypassing the proxy. */
  direct: string;
  /** The cache artifact a real build exported (root only). */
  cache?: { manifest: Json; document: Json; context: string };
}

interface TrialResult {
  outcome?: CommandOutcome & { peakBytes?: number };
  /** Findings the trial itself made (an in-process crash, a push not really done, a corrupt built image). */
  findings: Finding[];
  /** Whether the operation succeeded. */
  succeeded: boolean;
  faults: number;
  /** The trial's input once its crafted content is known (what was published, and how). */
  label?: string;
}

type Trial = { label: string; route: Route; run(lane: Lane, input: string): Promise<TrialResult> };

function pickRoute(rng: Random): Route {
  const usable = ROUTE_WEIGHTS.filter(([, , needsRoot]) => isRoot || !needsRoot);
  let n = rng.next() * usable.reduce((sum, [, w]) => sum + w, 0);
  for (const [route, weight] of usable) if ((n -= weight) < 0) return route;
  return 'pull-fault';
}

/** A fault for a request: its rule and a label. `inProcess`: time limits are short there, so slow and repeated faults are allowed. */
function randomFault(rng: Random, paths: Array<[string, string | undefined, RegExp]>, direct: string, inProcess: boolean): { rule: FaultRule; label: string } {
  const [where, method, path] = rng.pick(paths);
  const redirect = rng.pick([
    'file:///etc/passwd', 'ftp://127.0.0.1/x', 'data:text/plain,x', '', 'http://127.0.0.1:1/v2/', 'http://[::1', `/v2/${'a'.repeat(3000)}`, 'x'.repeat(100_000), `${direct}/v2/`, '/v2/',
  ]);
  const faults: Array<[string, Fault]> = [
    ['an error status', { type: 'status', status: rng.pick([400, 401, 403, 404, 405, 406, 409, 416, 418, 500, 501, 502, 503, 504, 599, 999]) }],
    ['a 401 with an odd challenge', { type: 'status', status: 401, headers: { 'www-authenticate': rng.pick(['Bearer realm="file:///etc/passwd",service="x"', 'Bearer realm="http://127.0.0.1:1/token"', 'Basic', 'Bearer realm=', `Bearer realm="${'r'.repeat(50_000)}"`, 'Negotiate']) } }],
    ['a redirect', { type: 'status', status: rng.pick([301, 302, 303, 307, 308]), headers: { location: redirect } }],
    ['a dropped connection', { type: 'drop-request' }],
    ['a body cut short', { type: 'drop-after', bytes: rng.int(rng.pick([200, 4000])) }],
    ['a corrupted byte', { type: 'corrupt', at: rng.int(600) }],
    ['an over-long body', { type: 'extend', bytes: rng.pick([1, 100, 70_000, 5 << 20]) }],
    ['a wrong Content-Type', { type: 'headers', set: { 'content-type': rng.pick(['text/html', '', 'application/vnd.docker.distribution.manifest.v1+prettyjws', 'application/vnd.oci.image.index.v1+json', 'application/vnd.oci.image.manifest.v1+json; q=0.5', 'x'.repeat(5000)]) } }],
    ['a wrong Docker-Content-Digest', { type: 'headers', set: { 'docker-content-digest': rng.pick([sha256(Buffer.from('other')), 'sha256:../../etc/passwd', 'garbage', `sha256:${'A'.repeat(64)}`, '']) } }],
    ['a wrong Content-Length', { type: 'headers', set: { 'content-length': rng.pick(['0', '1', '99999999', '-1', 'abc']) } }],
    ['a huge header', { type: 'headers', set: { 'x-padding': 'p'.repeat(rng.pick([20_000, 200_000, 2_000_000])) } }],
    ['an odd Content-Range', { type: 'headers', set: { 'content-range': rng.pick(['bytes 0-0/0', 'bytes */*', 'garbage', 'bytes 5-1/3']) } }],
  ];
  if (inProcess) {
    faults.push(
      ['a trickling body', { type: 'slow', chunkBytes: rng.pick([1, 16, 512]), delayMs: rng.pick([50, 200, 600]) }],
      ['a 429 with Retry-After', { type: 'status', status: 429, headers: { 'retry-after': rng.pick(['1', '999999', '-1', 'garbage', 'Wed, 21 Oct 2099 07:28:00 GMT', '']) } }],
    );
  }
  const [what, fault] = rng.pick(faults);
  const times = inProcess ? rng.pick([1, 2, 3, Infinity]) : rng.pick([1, 1, 1, 2, 3]);
  return { rule: { method, path, fault, times }, label: `${what} on ${where}${times === 1 ? '' : ` (${times === Infinity ? 'every' : times} times)`}` };
}

function pullPaths(repo: string): Array<[string, string | undefined, RegExp]> {
  const escaped = repo.replace(/\//g, '\\/');
  return [
    ['the ping', 'GET', /^\/v2\/$/],
    ['manifest GET', 'GET', new RegExp(`^/v2/${escaped}/manifests/`)],
    ['manifest HEAD', 'HEAD', new RegExp(`^/v2/${escaped}/manifests/`)],
    ['blob GET', 'GET', new RegExp(`^/v2/${escaped}/blobs/`)],
    ['any request', undefined, /./],
  ];
}

function pushPaths(repo: string): Array<[string, string | undefined, RegExp]> {
  const escaped = repo.replace(/\//g, '\\/');
  return [
    ['the ping', 'GET', /^\/v2\/$/],
    ['blob HEAD', 'HEAD', new RegExp(`^/v2/${escaped}/blobs/sha256`)],
    ['upload POST', 'POST', new RegExp(`^/v2/${escaped}/blobs/uploads/`)],
    ['upload PATCH', 'PATCH', new RegExp(`^/v2/${escaped}/blobs/uploads/`)],
    ['upload PUT', 'PUT', new RegExp(`^/v2/${escaped}/blobs/uploads/`)],
    ['manifest PUT', 'PUT', new RegExp(`^/v2/${escaped}/manifests/`)],
    ['manifest HEAD', 'HEAD', new RegExp(`^/v2/${escaped}/manifests/`)],
    ['any request', undefined, /./],
  ];
}

/**
 * Puts a crafted image into `repo` under tag `v`: blobs and manifests straight into the registry;
 * a manifest the registry refuses is served by the proxy instead, with a Content-Type and
 * Docker-Content-Digest that now and then lie. Returns what was done.
 */
async function publishCrafted(rng: Random, shared: Shared, lane: Lane, repo: string, targets: EscapeTargets): Promise<string> {
  const levels: Level[] = ['config', 'manifest', 'index', 'layer', 'diff-id', 'none'];
  const mutate = rng.pick(levels);
  const built = buildArchive(
    rng,
    {
      format: 'oci',
      layers: [{ tar: hostileLayer(rng, targets).tar, compression: rng.pick(['gzip', 'zstd', 'none'] as const) }],
      multiPlatform: mutate === 'index' || rng.next() < 0.25,
      dockerMediaTypes: rng.next() < 0.3,
      name: 'unused:1',
      mutate,
    },
    targets,
  );
  const served: string[] = [];
  const serve = (reference: string, blob: Blob): void => {
    const lieType = rng.next() < 0.15;
    const lieDigest = rng.next() < 0.15;
    const headers = {
      'content-type': lieType ? rng.pick(['application/json', 'text/plain', 'application/vnd.oci.image.index.v1+json']) : blob.mediaType,
      'docker-content-digest': lieDigest ? sha256(Buffer.from(rng.pick(['x', 'y']))) : sha256(blob.bytes),
    };
    for (const method of ['GET', 'HEAD']) lane.proxy.inject({ method, path: new RegExp(`^/v2/${repo}/manifests/${reference}$`), fault: { type: 'status', status: 200, headers, body: blob.bytes }, times: Infinity });
    served.push(`${reference === 'v' ? 'the tag' : 'a child manifest'} served by the proxy${lieType ? ' (wrong Content-Type)' : ''}${lieDigest ? ' (wrong Docker-Content-Digest)' : ''}`);
  };
  for (const blob of built.blobs.values()) if (!isManifestBlob(blob)) await uploadBlob(shared.direct, repo, blob.bytes);
  for (const blob of built.blobs.values()) {
    if (!isManifestBlob(blob) || blob === built.top) continue;
    if ((await putManifest(shared.direct, repo, sha256(blob.bytes), blob)) >= 300) serve(sha256(blob.bytes), blob);
  }
  if ((await putManifest(shared.direct, repo, 'v', built.top)) >= 300) serve('v', built.top);
  if (rng.next() < 0.15) {
    // A blob that is not what its digest says: another blob's bytes, or the right ones with a byte flipped.
    const blobs = [...built.blobs.values()].filter((blob) => !isManifestBlob(blob));
    const victim = rng.pick(blobs);
    const other = rng.pick(blobs);
    const body = other === victim ? Buffer.from(victim.bytes.map((byte, i) => (i === 0 ? byte ^ 1 : byte))) : other.bytes;
    lane.proxy.inject({ method: 'GET', path: new RegExp(`/blobs/${sha256(victim.bytes)}$`), fault: { type: 'status', status: 200, headers: { 'content-type': 'application/octet-stream' }, body }, times: Infinity });
    served.push('a blob served with other bytes');
  }
  return [built.label, ...served].join('; ');
}

/** Runs gantry (with the lane's config file) watching its memory. */
async function gantry(lane: Lane, args: string[]): Promise<CommandOutcome & { peakBytes: number }> {
  const watch = new MemoryWatch();
  const outcome = await runGantry(lane.root, args, { timeoutMs: TRIAL_TIMEOUT_MS, env: lane.env, onSpawn: (pid) => watch.start(pid) });
  return { ...outcome, peakBytes: await watch.stop() };
}

function cliResult(outcome: CommandOutcome & { peakBytes: number }, faults: number, findings: Finding[] = []): TrialResult {
  return { outcome, findings, succeeded: outcome.code === 0, faults };
}

/** An in-process operation: a GantryError is handled; anything else, or no end within the limit, is a finding. */
async function inProcess(input: string, faults: number, operation: () => Promise<unknown>): Promise<TrialResult> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<'hang'>((resolve) => (timer = setTimeout(() => resolve('hang'), IN_PROCESS_LIMIT_MS)));
  try {
    const result = await Promise.race([operation().then(() => 'ok' as const), limit]);
    if (result === 'hang') return { findings: [{ kind: 'hang', input, detail: `no result after ${IN_PROCESS_LIMIT_MS} ms` }], succeeded: false, faults };
    return { findings: [], succeeded: true, faults };
  } catch (err) {
    if (isGantryError(err)) return { findings: [], succeeded: false, faults };
    return { findings: [{ kind: 'crash', input, detail: `not a GantryError: ${lastLines((err as Error)?.stack ?? String(err))}` }], succeeded: false, faults };
  } finally {
    clearTimeout(timer);
  }
}

function registryOptions(rng: Random): RegistryOptions {
  return {
    timeoutMs: rng.pick([300, 800]),
    retry: { attempts: rng.pick([1, 2, 3]), baseDelayMs: 5, maxDelayMs: 100 },
    concurrency: rng.pick([1, 4]),
    chunkedUploadThreshold: rng.pick([16 << 20, 64 * 1024]),
    chunkSize: 32 * 1024,
  };
}

async function storeOf(lane: Lane): Promise<Store> {
  lane.store ??= await Store.open(lane.root);
  return lane.store;
}

/** Whether a pushed reference is really in the registry: its manifest and every blob it names. */
async function pushProblem(direct: string, repo: string, tag: string): Promise<string | undefined> {
  const bytes = await registryGet(direct, repo, 'manifests', tag);
  if (!bytes) return `the push succeeded but ${repo}:${tag} is not in the registry`;
  const manifest = JSON.parse(bytes.toString('utf8')) as { config?: { digest: string }; layers?: Array<{ digest: string }>; manifests?: Array<{ digest: string }> };
  for (const child of manifest.manifests ?? []) if (!(await registryHas(direct, repo, 'manifests', child.digest))) return `the pushed index names ${child.digest}, which the registry lacks`;
  for (const blob of [manifest.config, ...(manifest.layers ?? [])]) {
    if (blob && !(await registryHas(direct, repo, 'blobs', blob.digest))) return `the pushed manifest names blob ${blob.digest}, which the registry lacks`;
  }
  return undefined;
}

/**
 * A layer of a stored image, from the `from`th on (the build's own: a base image's layers are taken as
 * they are, as BuildKit does), whose content does not match its config's diff ID; undefined when none.
 * The compression is read from the blob's first bytes, as gantry and containerd read it.
 */
async function layerMismatch(root: string, manifestDigest: string, from: (layers: number) => number): Promise<string | undefined> {
  const blob = (digest: string) => readFile(join(root, 'blobs', 'sha256', digest.slice(7)));
  const manifest = JSON.parse((await blob(manifestDigest)).toString('utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
  const config = JSON.parse((await blob(manifest.config.digest)).toString('utf8')) as { rootfs: { diff_ids: string[] } };
  for (const [i, layer] of manifest.layers.entries()) {
    if (i < from(manifest.layers.length)) continue;
    const bytes = await blob(layer.digest);
    const zstd = bytes.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
    let tar: Buffer;
    try {
      tar = zstd ? spawnSync('zstd', ['-dc'], { input: bytes, maxBuffer: 1 << 30 }).stdout : bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
    } catch (err) {
      return `layer ${i + 1} (${layer.digest}) cannot be decompressed: ${(err as Error).message}`;
    }
    const actual = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
    if (actual !== config.rootfs.diff_ids[i]) return `layer ${i + 1} (${layer.digest}) has diff ID ${actual}, its config says ${config.rootfs.diff_ids[i]}`;
  }
  return undefined;
}

function makeTrial(index: number, seed: number, shared: Shared): Trial {
  const rng = new Random(seed * 1_000_003 + index);
  const route = pickRoute(rng);
  const repo = `crafted/t${index}`;
  const at = (host: string) => `${host}/${repo}:v`;
  switch (route) {
    case 'pull-crafted':
    case 'inspect-crafted': {
      const flags = route === 'pull-crafted' ? rng.pick([[], [], ['--platform', 'linux/arm64'], ['--all-platforms']]) : [];
      return {
        label: `${route === 'pull-crafted' ? 'pull' : 'manifest inspect'} ${flags.join(' ')} of a crafted image`,
        route,
        run: async (l, input) => {
          const what = await publishCrafted(rng, shared, l, repo, l.targets);
          const outcome = await gantry(l, route === 'pull-crafted' ? ['pull', ...flags, at(l.proxy.host)] : ['manifest', 'inspect', at(l.proxy.host)]);
          return { ...cliResult(outcome, 0), label: `${input}: ${what}` };
        },
      };
    }
    case 'pull-fault': {
      const fault = randomFault(rng, pullPaths(GOOD_REPO), shared.direct, false);
      return {
        label: `pull of a good image with ${fault.label}`,
        route,
        run: async (l) => {
          l.proxy.inject(fault.rule);
          return cliResult(await gantry(l, ['pull', `${l.proxy.host}/${GOOD_REPO}:1`]), 1);
        },
      };
    }
    case 'pull-in-process': {
      const crafted = rng.next() < 0.4;
      const faults = Array.from({ length: 1 + rng.int(2) }, () => randomFault(rng, pullPaths(crafted ? repo : GOOD_REPO), shared.direct, true));
      const options = registryOptions(rng);
      return {
        label: `pullImage of ${crafted ? 'a crafted' : 'a good'} image (timeout ${options.timeoutMs} ms, ${options.retry?.attempts} attempts) with ${faults.map((f) => f.label).join(', ')}`,
        route,
        run: async (l, input) => {
          const what = crafted ? await publishCrafted(rng, shared, l, repo, l.targets) : '';
          for (const fault of faults) l.proxy.inject(fault.rule);
          const store = await storeOf(l);
          const result = await inProcess(input, faults.length, () => pullImage(store, crafted ? at(l.proxy.host) : `${l.proxy.host}/${GOOD_REPO}:1`, options).finally(() => closeRegistrySession(options)));
          return { ...result, label: what ? `${input}: ${what}` : undefined };
        },
      };
    }
    case 'push-fault':
    case 'push-in-process': {
      const target = `pushed/t${index}`;
      const faults = Array.from({ length: 1 + rng.int(2) }, () => randomFault(rng, pushPaths(target), shared.direct, route === 'push-in-process'));
      const options = registryOptions(rng);
      return {
        label: `${route === 'push-fault' ? 'push' : 'pushImage'} with ${faults.map((f) => f.label).join(', ')}`,
        route,
        run: async (l, input) => {
          for (const fault of faults) l.proxy.inject(fault.rule);
          const result =
            route === 'push-fault'
              ? cliResult(await gantry(l, ['push', 'busybox:latest', `${l.proxy.host}/${target}:1`]), faults.length)
              : await inProcess(input, faults.length, async () => pushImage(await storeOf(l), 'busybox:latest', `${l.proxy.host}/${target}:1`, options).finally(() => closeRegistrySession(options)));
          if (result.succeeded) {
            const problem = await pushProblem(shared.direct, target, '1');
            if (problem) result.findings.push({ kind: 'corrupt', input, detail: problem });
          }
          return result;
        },
      };
    }
    case 'build-from': {
      const copy = rng.next() < 0.5;
      return {
        label: `build FROM a crafted image${copy ? ', with a COPY on it' : ''}`,
        route,
        run: async (l, input) => {
          const what = await publishCrafted(rng, shared, l, repo, l.targets);
          const context = join(l.work, `context-${index}`);
          await mkdir(context, { recursive: true });
          await writeFile(join(context, 'f'), 'copied\n');
          await writeFile(join(context, 'Dockerfile'), `FROM ${at(l.proxy.host)}\n${copy ? 'COPY f /f\n' : ''}LABEL hostile=1\n`);
          const outcome = await gantry(l, ['build', '-q', context]);
          await rm(context, { recursive: true, force: true });
          const findings: Finding[] = [];
          const digest = outcome.code === 0 ? /sha256:[a-f0-9]{64}/.exec(outcome.stdout)?.[0] : undefined;
          const mismatch = digest && copy ? await layerMismatch(l.root, digest, (layers) => layers - 1) : undefined;
          if (mismatch) findings.push({ kind: 'corrupt', input, detail: `the built image: ${mismatch}` });
          return { ...cliResult(outcome, 0, findings), label: `${input}: ${what}` };
        },
      };
    }
    default:
      return cacheTrial(rng, index, shared);
  }
}

/** A build with --cache-from a cache artifact whose records or manifest were mutated (or a fault on the way). */
function cacheTrial(rng: Random, index: number, shared: Shared): Trial {
  const cache = shared.cache!;
  const tag = `t${index}`;
  const poison = rng.pick(['records', 'manifest', 'swap', 'diff-id', 'fault']);
  return {
    label: `build --cache-from a ${poison === 'fault' ? 'good cache with a fault' : `poisoned cache (${poison})`}`,
    route: 'cache-from',
    run: async (l, input) => {
      let what = '';
      const document = JSON.parse(JSON.stringify(cache.document)) as { records: Array<{ layer: { digest: string; diffId: string; size: number } }> };
      let documentBytes: Buffer = Buffer.from(JSON.stringify(document));
      if (poison === 'records') {
        const mutation = mutateDocument(rng, cache.document, []);
        documentBytes = mutation.bytes;
        what = mutation.label;
      } else if (poison === 'swap' && document.records.length > 1) {
        const [a, b] = [rng.int(document.records.length), rng.int(document.records.length)];
        [document.records[a]!.layer, document.records[b]!.layer] = [document.records[b]!.layer, document.records[a]!.layer];
        documentBytes = Buffer.from(JSON.stringify(document));
        what = `records ${a + 1} and ${b + 1} swap layers`;
      } else if (poison === 'diff-id') {
        const record = rng.pick(document.records);
        record.layer.diffId = sha256(Buffer.from(`not this layer ${index}`));
        documentBytes = Buffer.from(JSON.stringify(document));
        what = 'a record with a diff ID its layer does not have';
      }
      const config: Blob = { mediaType: 'application/vnd.gantry.build-cache.config.v1+json', bytes: documentBytes };
      await uploadBlob(shared.direct, CACHE_REPO, config.bytes);
      const manifest = JSON.parse(JSON.stringify(cache.manifest)) as { config: { digest: string; size: number } };
      manifest.config.digest = sha256(config.bytes);
      manifest.config.size = config.bytes.length;
      let top: Blob = { mediaType: 'application/vnd.oci.image.manifest.v1+json', bytes: Buffer.from(JSON.stringify(manifest)) };
      if (poison === 'manifest') {
        const mutation = mutateDocument(rng, manifest as unknown as Json, []);
        top = { ...top, bytes: mutation.bytes };
        what = mutation.label;
      }
      if ((await putManifest(shared.direct, CACHE_REPO, tag, top)) >= 300) {
        for (const method of ['GET', 'HEAD']) l.proxy.inject({ method, path: new RegExp(`^/v2/${CACHE_REPO}/manifests/${tag}$`), fault: { type: 'status', status: 200, headers: { 'content-type': top.mediaType }, body: top.bytes }, times: Infinity });
        what += '; served by the proxy';
      }
      let faults = 0;
      if (poison === 'fault') {
        const fault = randomFault(rng, pullPaths(CACHE_REPO), shared.direct, false);
        l.proxy.inject(fault.rule);
        what = fault.label;
        faults = 1;
      }
      // Without the local build cache, every hit comes from the imported records.
      await gantryOk(l.root, ['prune'], { env: l.env });
      const outcome = await gantry(l, ['build', '-q', '--cache-from', `type=registry,ref=${l.proxy.host}/${CACHE_REPO}:${tag}`, cache.context]);
      const findings: Finding[] = [];
      const digest = outcome.code === 0 ? /sha256:[a-f0-9]{64}/.exec(outcome.stdout)?.[0] : undefined;
      const mismatch = digest ? await layerMismatch(l.root, digest, () => 0) : undefined;
      if (mismatch) findings.push({ kind: 'corrupt', input, detail: `the built image: ${mismatch}` });
      return { ...cliResult(outcome, faults, findings), label: `${input}: ${what}` };
    },
  };
}

/** Exports a real build's cache to the registry and reads it back: the artifact the cache trials poison. */
async function prepareCache(lane: Lane, shared: Shared, dir: string): Promise<Shared['cache']> {
  const context = join(dir, 'cache-context');
  await mkdir(context, { recursive: true });
  await writeFile(join(context, 'f'), 'cached\n');
  await writeFile(join(context, 'Dockerfile'), 'FROM busybox:latest\nCOPY f /f\nRUN echo built > /built && cat /f\nRUN echo more >> /built\n');
  const ref = `${shared.registry.host}/${CACHE_REPO}:base`;
  await gantryOk(lane.root, ['build', '-q', '--cache-to', `type=registry,ref=${ref},mode=max`, context]);
  const manifestBytes = await registryGet(shared.direct, CACHE_REPO, 'manifests', 'base');
  const manifest = JSON.parse(manifestBytes!.toString('utf8')) as { config: { digest: string } };
  const document = await registryGet(shared.direct, CACHE_REPO, 'blobs', manifest.config.digest);
  return { manifest: manifest as unknown as Json, document: JSON.parse(document!.toString('utf8')) as Json, context };
}

async function run(options: SuiteOptions): Promise<SuiteResult> {
  const full = options.scale === 'full';
  const total = full ? 2500 : 45;
  const registry = await startRegistry();
  const shared: Shared = { registry, direct: `http://${registry.host}` };
  const lanes: Lane[] = [];
  const findings: Finding[] = [];
  const routes = new RouteTally();
  let tried = 0;
  let handled = 0;
  let faultsInjected = 0;
  let faultsSurvived = 0;
  try {
    for (let id = 0; id < LANES; id++) {
      const dir = join(options.workDir, `lane${id}`);
      const { root, work } = await createLab(dir);
      const config = join(dir, 'gantry-config.json');
      const proxy = await startFaultProxy(registry.port);
      // The proxy is on loopback (plain HTTP anyway); naming it insecure exercises the config file.
      await writeFile(config, JSON.stringify({ insecureRegistries: [proxy.host] }));
      const sentinel = join(dir, 'sentinel');
      const marker = `gantry-hostile-registry-${options.seed}-${id}`;
      const guard = await newHostGuard(sentinel, marker, [...new Set([...storeWatchDirs(root), dir, work, sentinel])]);
      lanes.push({ root, work, proxy, guard, targets: { sentinel, marker }, env: { GANTRY_CONFIG: config } });
    }
    await gantryOk(lanes[0]!.root, ['push', '-q', 'busybox:latest', `${registry.host}/${GOOD_REPO}:1`]);
    if (isRoot) shared.cache = await prepareCache(lanes[0]!, shared, join(options.workDir, 'lane0'));
    let next = 0;
    await Promise.all(
      lanes.map(async (lane) => {
        for (let index = next++; index < total; index = next++) {
          const trial = makeTrial(index, options.seed, shared);
          let input = `trial ${index} (seed ${options.seed}): ${trial.label}`;
          const before = await readIndexNames(lane.root);
          const result = await trial.run(lane, input).catch((err: Error): TrialResult => ({
            findings: [{ kind: 'crash', input, detail: `the trial's own set-up failed: ${err.message}` }],
            succeeded: false,
            faults: 0,
          }));
          input = (result.label ?? input).slice(0, 400);
          const found = [...result.findings];
          if (result.outcome) found.push(...(await judgeTrial(lane.root, input, result.outcome, result.outcome.peakBytes)));
          else found.push(...(await judgeTrial(lane.root, input, { code: 0, signal: null, stdout: '', stderr: '', timedOut: false, ms: 0 }, undefined)));
          found.push(...(await judgeHost(lane.guard, input)));
          // Whatever the command did, what it named must read back through gantry's validating parsers.
          const named = [...(await readIndexNames(lane.root)).names].filter(([name, digest]) => before.names.get(name) !== digest).map(([name]) => name);
          if (named.length > 0) {
            const images = await runGantry(lane.root, ['images'], { timeoutMs: TRIAL_TIMEOUT_MS });
            if (images.code !== 0) found.push({ kind: 'corrupt', input, detail: `${named.join(', ')} named, and then images fails: ${lastLines(images.stderr, 2)}` });
          }
          lane.proxy.clear();
          routes.count(trial.route, result.succeeded);
          faultsInjected += result.faults;
          tried++;
          if (found.length === 0) {
            handled++;
            faultsSurvived += result.faults;
          } else {
            options.log(`finding in ${input}: ${found.map((f) => `${f.kind}: ${f.detail}`).join('; ').slice(0, 500)}`);
          }
          findings.push(...found);
        }
      }),
    );
  } finally {
    for (const lane of lanes) await lane.proxy.close();
    await registry.stop();
  }
  const figures = { 'faults injected': faultsInjected, 'faults survived': faultsSurvived, ...routes.figures() };
  return { unit: 'registry operations against hostile content and faults', tried, handled, findings, figures };
}

const suite: AttackSuite = {
  name: 'hostile-registry',
  title: 'a misbehaving registry and crafted content through pull, push, manifest inspect, build FROM and --cache-from',
  needsRoot: false,
  run,
};

export default suite;
