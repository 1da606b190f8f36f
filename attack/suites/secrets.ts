/**
 * Secret scans. Builds use `--secret id=…,src=FILE` and `--secret id=…,env=VAR` through
 * `RUN --mount=type=secret` (as a file, at a chosen target, and as an environment variable); some of
 * those RUN steps fail and some are SIGKILLed while they hold the secret. After each build the suite
 * looks for the trial's own random secret in every file under the store and the work directory (all
 * outputs: -o type=oci|docker|local|tar, save, --cache-to type=local), in the build's progress output
 * (plain and json) and error messages, and in /tmp, /dev/shm and /run — inside gzip layers and tar
 * archives too. After a kill it scans at once (a secret must be gone even then), and again after prune.
 */
import { lstat, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Random, lastLines, runGantry } from '../lib.js';
import type { AttackSuite, Finding, SuiteOptions, SuiteResult } from '../suite.js';
import { createLab, gantryOk, runKilled, uniqueText, writeTree, type Lab } from './faults-support.js';

/** Files larger than this are not read (none of gantry's or the suite's come near it). */
const MAX_SCAN_BYTES = 256 << 20;

/** Counts what was looked at and where the secret was found. */
class Scanner {
  places = 0;
  /** Files over MAX_SCAN_BYTES. */
  tooLarge = 0;
  /** Files that went away between listing and reading (other processes' temp files in /tmp and /run). */
  vanished = 0;
  constructor(private readonly secret: Buffer) {}

  /** Where in `data` (a file's bytes, or a member of it) the secret is, by the path of members. */
  scanBytes(data: Buffer, place: string, found: string[], depth = 0): void {
    this.places++;
    if (data.includes(this.secret)) found.push(place);
    if (depth > 3) return;
    if (data.length > 2 && data[0] === 0x1f && data[1] === 0x8b) {
      let inflated: Buffer | undefined;
      try {
        inflated = gunzipSync(data, { maxOutputLength: MAX_SCAN_BYTES });
      } catch {
        // not a whole gzip stream: scanned as bytes above
      }
      if (inflated) this.scanBytes(inflated, `${place} (gunzipped)`, found, depth + 1);
      return;
    }
    if (data.length >= 512 && data.subarray(257, 262).toString('latin1') === 'ustar') {
      for (const [name, member] of tarMembers(data)) this.scanBytes(member, `${place}:${name}`, found, depth + 1);
    }
  }

  /** Every regular file under `dir` (links not followed), except `skip`. */
  async scanTree(dir: string, found: string[], skip: (path: string) => boolean): Promise<void> {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (skip(path)) continue;
      if (entry.isDirectory()) await this.scanTree(path, found, skip);
      else if (entry.isFile()) {
        const info = await lstat(path).catch(() => undefined);
        if (info && info.size > MAX_SCAN_BYTES) this.tooLarge++;
        const data = info && info.size <= MAX_SCAN_BYTES ? await readFile(path).catch(() => undefined) : undefined;
        if (data) this.scanBytes(data, path, found);
        else if (!info || info.size <= MAX_SCAN_BYTES) this.vanished++;
      }
    }
  }
}

/** Regular-file members of a tar archive (ustar and GNU headers; long names are read as written). */
function* tarMembers(data: Buffer): Generator<[string, Buffer]> {
  let offset = 0;
  while (offset + 512 <= data.length) {
    const header = data.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) return;
    const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    if (!Number.isFinite(size) || size < 0) return;
    const type = String.fromCharCode(header[156]);
    const start = offset + 512;
    if (type === '0' || type === '\0' || type === 'x' || type === 'L') yield [name, data.subarray(start, Math.min(start + size, data.length))];
    offset = start + Math.ceil(size / 512) * 512;
  }
}

interface Scenario {
  name: string;
  how: 'file' | 'env';
  dockerfile: string;
  /** 'ok': the build succeeds; 'fail': its RUN fails; 'kill': it is SIGKILLed while the RUN holds the secret. */
  ends: 'ok' | 'fail' | 'kill';
}

const SCENARIOS: Scenario[] = [
  { name: 'file secret', how: 'file', ends: 'ok', dockerfile: 'RUN --mount=type=secret,id=tok test -s /run/secrets/tok && wc -c < /run/secrets/tok > /size.txt' },
  { name: 'file secret at a target', how: 'file', ends: 'ok', dockerfile: 'RUN --mount=type=secret,id=tok,target=/etc/app/token.conf,mode=0400 test -s /etc/app/token.conf && echo used > /used.txt' },
  { name: 'env secret', how: 'env', ends: 'ok', dockerfile: 'RUN --mount=type=secret,id=tok,env=TOKEN test -n "$TOKEN" && echo ${#TOKEN} > /len.txt' },
  { name: 'failing RUN with a file secret', how: 'file', ends: 'fail', dockerfile: 'RUN --mount=type=secret,id=tok test -s /run/secrets/tok && echo using it && exit 7' },
  { name: 'failing RUN with an env secret', how: 'env', ends: 'fail', dockerfile: 'RUN --mount=type=secret,id=tok,env=TOKEN test -n "$TOKEN" && exit 9' },
  { name: 'SIGKILL during a RUN with a file secret', how: 'file', ends: 'kill', dockerfile: 'RUN --mount=type=secret,id=tok test -s /run/secrets/tok && echo holding-secret && sleep 30' },
  { name: 'SIGKILL during a RUN with an env secret', how: 'env', ends: 'kill', dockerfile: 'RUN --mount=type=secret,id=tok,env=TOKEN test -n "$TOKEN" && echo holding-secret && sleep 30' },
];

/** Where a SIGKILLed build's secret stays until secrets reach RUN through a tmpfs in a private mount namespace. */
const KILL_LEAK_PLACES = /\/tmp\/build-\d+-[a-f0-9]+\/run-\d+\/secret-\d+|\/runtime-bundles\/gantry-[^/]+\/config\.json/;

const suite: AttackSuite = {
  name: 'secrets',
  title: 'build secrets (file and env, failing and SIGKILLed RUN steps) are found nowhere: store, outputs, progress, errors, /tmp, /dev/shm, /run',
  needsRoot: true,
  async run(options: SuiteOptions): Promise<SuiteResult> {
    const random = new Random(options.seed);
    const findings: Finding[] = [];
    const figures = { 'places scanned': 0, 'files too large to scan': 0, 'files gone before read': 0, leaks: 0, builds: 0, kills: 0, 'outputs scanned': 0 };
    let tried = 0;
    let handled = 0;
    const lab: Lab = await createLab(options.workDir);
    const count = options.scale === 'full' ? SCENARIOS.length * 5 : SCENARIOS.length;
    for (let trial = 1; trial <= count; trial++) {
      const scenario = SCENARIOS[(trial - 1) % SCENARIOS.length];
      tried++;
      const before = findings.length;
      const secretText = `S3CR3T-${uniqueText(16)}`;
      const secret = Buffer.from(secretText);
      const scanner = new Scanner(secret);
      const dir = join(lab.work, `trial-${trial}`);
      const secretFile = join(options.workDir, `secret-${trial}`);
      await writeFile(secretFile, secretText, { mode: 0o600 });
      const context = await writeTree(join(dir, 'context'), { Dockerfile: `FROM busybox:latest\n${scenario.dockerfile}\n` });
      const out = join(dir, 'out');
      const progress = random.pick(['plain', 'json']);
      const args = ['build', '--progress', progress, '--no-cache', '-t', `secret-${trial}:1`, '--secret', scenario.how === 'file' ? `id=tok,src=${secretFile}` : 'id=tok,env=GANTRY_ATTACK_SECRET'];
      if (scenario.ends === 'ok') {
        args.push('-o', `type=oci,dest=${join(out, 'oci.tar')}`, '-o', `type=docker,dest=${join(out, 'docker.tar')}`, '-o', `type=oci,dest=${join(out, 'layout')}/`);
        args.push('-o', `type=local,dest=${join(out, 'rootfs')}`, '-o', `type=tar,dest=${join(out, 'rootfs.tar')}`);
        args.push('--cache-to', `type=local,dest=${join(out, 'cache')},mode=max`);
      }
      args.push(context);
      const env = { GANTRY_ATTACK_SECRET: secretText };
      figures.builds++;
      let outcome;
      if (scenario.ends === 'kill') {
        // Killed once the RUN step's container is being set up, and a moment later while it holds the secret.
        const bundles = join(lab.root, 'runtime-bundles');
        const running = async () => (await readdir(bundles).catch(() => [] as string[])).length > 0;
        outcome = (await runKilled(lab.root, args, running, { env, graceMs: 400, timeoutMs: 120_000 })).outcome;
      } else {
        outcome = await runGantry(lab.root, args, { env, timeoutMs: 120_000 });
      }
      const input = `trial ${trial}: ${scenario.name} (progress ${progress})`;
      if (scenario.ends === 'ok' && outcome.code !== 0) findings.push({ kind: 'crash', input, detail: `the build failed: ${lastLines(outcome.stderr)}` });
      if (scenario.ends === 'fail' && !(outcome.code === 1 && /^error: /m.test(outcome.stderr))) findings.push({ kind: 'crash', input, detail: `not a clear build failure: exit ${outcome.code}: ${lastLines(outcome.stderr)}` });
      if (scenario.ends === 'kill' && outcome.signal !== 'SIGKILL') findings.push({ kind: 'hang', input, detail: `the RUN step was not reached to be killed: ${lastLines(outcome.stderr)}` });

      const found: string[] = [];
      scanner.scanBytes(Buffer.from(outcome.stdout), 'the build\'s standard output', found);
      scanner.scanBytes(Buffer.from(outcome.stderr), `the build's progress and error output (${progress})`, found);
      if (scenario.ends === 'ok') {
        figures['outputs scanned'] += 6;
        const saved = await runGantry(lab.root, ['save', '-o', join(out, 'save.tar'), `secret-${trial}:1`]);
        if (saved.code !== 0) findings.push({ kind: 'crash', input, detail: `save failed: ${lastLines(saved.stderr)}` });
        figures['outputs scanned']++;
      }
      const skipSecretFile = (path: string) => path === secretFile;
      await scanner.scanTree(options.workDir, found, skipSecretFile);
      for (const hostDir of ['/tmp', '/dev/shm', '/run']) await scanner.scanTree(hostDir, found, (path) => path === options.workDir || skipSecretFile(path));
      reportLeaks(findings, input, found, scenario);

      if (scenario.ends === 'kill') {
        figures.kills++;
        // What the dead build left (its container, bundle, scratch files) is removed by prune; no secret may survive that either.
        await gantryOk(lab.root, ['prune', '--keep-cache']);
        const afterPrune: string[] = [];
        await scanner.scanTree(options.workDir, afterPrune, skipSecretFile);
        for (const hostDir of ['/tmp', '/dev/shm', '/run']) await scanner.scanTree(hostDir, afterPrune, (path) => path === options.workDir || skipSecretFile(path));
        reportLeaks(findings, `${input}; after prune`, afterPrune, undefined);
      }
      figures['places scanned'] += scanner.places;
      figures['files too large to scan'] += scanner.tooLarge;
      figures['files gone before read'] += scanner.vanished;
      figures.leaks += findings.slice(before).filter((f) => f.kind === 'leak').length;
      if (findings.length === before) handled++;
      options.log(`${input}: exit ${outcome.code ?? outcome.signal}, ${scanner.places} places scanned${findings.length > before ? `, ${findings.length - before} findings` : ''}`);
    }
    return { unit: 'secret builds', tried, handled, findings, figures };
  },
};

export default suite;

function reportLeaks(findings: Finding[], input: string, found: string[], scenario: Scenario | undefined): void {
  if (found.length === 0) return;
  const pending = scenario?.ends === 'kill' && found.every((place) => KILL_LEAK_PLACES.test(place));
  findings.push({
    kind: 'leak',
    input,
    detail: pending
      ? `the secret of a RUN step SIGKILLed while holding it stays on disk at ${found.join(', ')} — known until secrets reach RUN through a tmpfs in a private mount namespace (the pending change to src/solver/ops/run-mounts.ts and src/exec/)`
      : `the secret was found in ${found.slice(0, 8).join(', ')}${found.length > 8 ? ` (+${found.length - 8} more)` : ''}`,
  });
}
