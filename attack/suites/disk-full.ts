/**
 * A full disk under every store-writing command. The store lives on a small tmpfs (and, in separate
 * trials, an output does) that is filled until only a chosen amount is free; the command must then
 * succeed (it fit) or fail with the machine-error message, leaving index.json as it was, every blob
 * verified, no temp files (ingest/, tmp/, temp names beside outputs) and nothing mounted or running.
 * Once the filler is removed, the same command must succeed.
 */
import { readdir, readFile, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { Random, lastLines, runGantry } from '../lib.js';
import type { AttackSuite, Finding, SuiteOptions, SuiteResult } from '../suite.js';
import {
  allLeftovers,
  busyboxRootfsTar,
  createLab,
  execFileAsync,
  familiar,
  gantryOk,
  mountsUnder,
  mustSucceed,
  outputProblem,
  readIndexNames,
  startRegistry,
  storeProblems,
  uniqueText,
  writeTree,
  type Lab,
  type OutputKind,
} from './faults-support.js';

const MiB = 1 << 20;
/** What every trial starts from: busybox and the image `save` writes. */
const BASE_NAMES = new Set(['busybox:latest', 'df-base:1']);
const STORE_FS_BYTES = 64 * MiB;
const OUTPUT_FS_BYTES = 24 * MiB;
/** Bytes left free, from none to enough for most commands. */
const LEVELS = [0, 64 * 1024, 1 * MiB, 4 * MiB, 12 * MiB, 24 * MiB, 56 * MiB];
const OUTPUT_LEVELS = [0, 64 * 1024, 1 * MiB, 6 * MiB, 20 * MiB];

interface DiskLab extends Lab {
  storeFs: string;
  outputFs: string;
  context: string;
  registry: string;
  archive: string;
  importTar: string;
  scratch: string;
}

interface DiskCommand {
  name: string;
  /** Which file system is filled. */
  fills: 'store' | 'output';
  args(lab: DiskLab): string[];
  output?: { path(lab: DiskLab): string; kind: OutputKind };
}

const build = (lab: DiskLab, file: string, ...extra: string[]) => ['build', '--progress', 'plain', '--no-cache', '-f', join(lab.context, file), ...extra, lab.context];
const outPath = (name: string) => (lab: DiskLab) => join(lab.outputFs, name);

const COMMANDS: DiskCommand[] = [
  { name: 'build with a large RUN output', fills: 'store', args: (lab) => build(lab, 'run.Dockerfile', '-t', 'df-run:1') },
  { name: 'build COPY of a big file', fills: 'store', args: (lab) => build(lab, 'copy.Dockerfile', '-t', 'df-copy:1') },
  { name: 'import', fills: 'store', args: (lab) => ['import', lab.importTar, 'df-import:1'] },
  { name: 'load', fills: 'store', args: (lab) => ['load', '-q', lab.archive] },
  { name: 'pull', fills: 'store', args: (lab) => ['pull', '-q', `${lab.registry}/df/src:1`] },
  { name: 'save (output full)', fills: 'output', args: (lab) => ['save', '-o', outPath('save.tar')(lab), 'df-base:1'], output: { path: outPath('save.tar'), kind: 'docker-tar' } },
  {
    name: 'build --cache-to (output full)',
    fills: 'output',
    args: (lab) => build(lab, 'copy.Dockerfile', '-t', 'df-cache:1', '--cache-to', `type=local,dest=${outPath('cache')(lab)},mode=max`),
    output: { path: outPath('cache'), kind: 'cache-dir' },
  },
  {
    name: 'build -o type=oci (output full)',
    fills: 'output',
    args: (lab) => build(lab, 'copy.Dockerfile', '-t', 'df-oci:1', '-o', `type=oci,dest=${outPath('image.tar')(lab)}`),
    output: { path: outPath('image.tar'), kind: 'oci-tar' },
  },
  {
    name: 'build -o type=local (output full)',
    fills: 'output',
    args: (lab) => build(lab, 'copy.Dockerfile', '-t', 'df-local:1', '-o', `type=local,dest=${outPath('rootfs')(lab)}`),
    output: { path: outPath('rootfs'), kind: 'rootfs-dir' },
  },
];

async function mountTmpfs(dir: string, bytes: number): Promise<void> {
  await execFileAsync('mkdir', ['-p', dir]);
  await execFileAsync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', dir]);
}

/** Unmounts a test file system and anything a failed trial left mounted inside it. */
async function unmountTmpfs(dir: string): Promise<void> {
  for (const point of (await mountsUnder(dir)).reverse()) await execFileAsync('umount', ['-l', point]).catch(() => undefined);
  await execFileAsync('umount', ['-l', dir]).catch(() => undefined);
}

async function freeBytes(dir: string): Promise<number> {
  const info = await statfs(dir);
  return info.bavail * info.bsize;
}

/** Fills the file system of `dir` until `left` bytes are free. */
async function fill(dir: string, left: number): Promise<void> {
  const filler = join(dir, 'filler');
  const size = (await freeBytes(dir)) - left;
  if (size > 0) await execFileAsync('fallocate', ['-l', String(size), filler]);
}

const MACHINE_ERROR = /^error: no space left on the device.*\nhint: free space where the store or the output is/m;
/**
 * A RUN step's own program ran out of space: gantry reports the step's failure, with the program's last
 * output (which says ENOSPC, or EIO: the overlay returns that once its upper layer could not be written).
 */
const RUN_OUT_OF_SPACE = /^error: .*RUN .*did not complete successfully: exit code: \d+\n(.*\n)*.*(No space left on device|I\/O error)/m;

async function setUp(options: SuiteOptions): Promise<{ lab: DiskLab; stop(): Promise<void> }> {
  const storeFs = join(options.workDir, 'store-fs');
  const outputFs = join(options.workDir, 'output-fs');
  await mountTmpfs(storeFs, STORE_FS_BYTES);
  await mountTmpfs(outputFs, OUTPUT_FS_BYTES);
  const registry = await startRegistry().catch(async (err: unknown) => {
    await unmountTmpfs(storeFs);
    await unmountTmpfs(outputFs);
    throw err;
  });
  const stop = async () => {
    await registry.stop();
    await unmountTmpfs(storeFs);
    await unmountTmpfs(outputFs);
  };
  try {
    const base = await createLab(options.workDir, join(storeFs, 'store'));
    const context = join(base.work, 'context');
    await writeTree(context, {
      'big.bin': { content: Buffer.from(uniqueText(5 * MiB), 'hex') },
      'copy.Dockerfile': 'FROM busybox:latest\nCOPY big.bin /big.bin\n',
      'run.Dockerfile': 'FROM busybox:latest\nRUN head -c 14000000 /dev/urandom > /big && sync\n',
      'src.Dockerfile': 'FROM busybox:latest\nRUN head -c 8000000 /dev/urandom > /src.bin\n',
    });
    const lab: DiskLab = {
      ...base,
      storeFs,
      outputFs,
      context,
      registry: registry.host,
      archive: join(base.work, 'src.tar'),
      importTar: join(base.work, 'import.tar'),
      scratch: join(options.workDir, 'scratch-store'),
    };
    // The image that load and pull bring in: in the registry and an archive, not in the store.
    await gantryOk(lab.root, build(lab, 'src.Dockerfile', '-t', `${lab.registry}/df/src:1`, '--push'));
    await gantryOk(lab.root, ['tag', `${lab.registry}/df/src:1`, 'df-src:1']);
    await gantryOk(lab.root, ['save', '-o', lab.archive, 'df-src:1']);
    await gantryOk(lab.root, build(lab, 'copy.Dockerfile', '-t', 'df-base:1'));
    await execFileAsync('sh', ['-c', 'cp "$1" "$3" && tar -rf "$3" -C "$2" big.bin', 'sh', await busyboxRootfsTar(), context, lab.importTar]);
    return { lab, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Back to the base state: no filler, no outputs, no names but the base image's, and nothing they do not use. */
async function reset(lab: DiskLab): Promise<void> {
  await rm(join(lab.storeFs, 'filler'), { force: true });
  for (const name of await readdir(lab.outputFs)) await rm(join(lab.outputFs, name), { recursive: true, force: true });
  for (const name of (await readIndexNames(lab.root)).names.keys()) if (!BASE_NAMES.has(familiar(name))) await gantryOk(lab.root, ['rmi', name]);
  await gantryOk(lab.root, ['prune']);
}

const suite: AttackSuite = {
  name: 'disk-full',
  title: 'a full disk under every store-writing command: a clear error, an intact store, no temp files, success once space is freed',
  needsRoot: true,
  async run(options: SuiteOptions): Promise<SuiteResult> {
    const random = new Random(options.seed);
    const findings: Finding[] = [];
    const figures = { 'fill levels': 0, 'out of space, reported as such': 0, 'RUN steps out of space': 0, 'fit and succeeded': 0, 'reruns after freeing space': 0 };
    let tried = 0;
    let handled = 0;
    const { lab, stop } = await setUp(options);
    try {
      const trials: Array<[DiskCommand, number]> =
        options.scale === 'full'
          ? COMMANDS.flatMap((command) => (command.fills === 'store' ? LEVELS : OUTPUT_LEVELS).map((level): [DiskCommand, number] => [command, level]))
          : COMMANDS.map((command): [DiskCommand, number] => [command, random.pick((command.fills === 'store' ? LEVELS : OUTPUT_LEVELS).slice(0, 4))]).concat([[random.pick(COMMANDS), 56 * MiB]]);
      figures['fill levels'] = new Set(trials.map(([, level]) => level)).size;
      const scratch = lab.scratch;
      for (const [command, level] of trials) {
        tried++;
        const before = findings.length;
        const input = `${command.name}, ${(level / 1024).toFixed(0)} KiB free on the ${command.fills} file system`;
        await reset(lab);
        const indexBefore = await readFile(join(lab.root, 'index.json'), 'utf8');
        await fill(command.fills === 'store' ? lab.storeFs : lab.outputFs, level);
        const outcome = await runGantry(lab.root, command.args(lab), { timeoutMs: 180_000 });
        let result: string;
        if (outcome.code === 0) {
          figures['fit and succeeded']++;
          result = 'fit';
        } else if (MACHINE_ERROR.test(outcome.stderr)) {
          figures['out of space, reported as such']++;
          result = 'out of space';
        } else if (RUN_OUT_OF_SPACE.test(outcome.stderr) && command.name.includes('RUN')) {
          figures['RUN steps out of space']++;
          result = 'RUN out of space';
        } else {
          result = 'unclear failure';
          findings.push({ kind: 'crash', input, detail: `not the machine-error message: exit ${outcome.code ?? outcome.signal}: ${lastLines(outcome.stderr, 6)}` });
        }
        for (const problem of await storeProblems(lab.root)) findings.push({ kind: 'corrupt', input, detail: problem });
        if (outcome.code !== 0 && (await readFile(join(lab.root, 'index.json'), 'utf8')) !== indexBefore) {
          findings.push({ kind: 'corrupt', input, detail: 'index.json changed although the command failed' });
        }
        const left = await allLeftovers(lab.root);
        if (left.length > 0) findings.push({ kind: 'corrupt', input, detail: `left behind in the store: ${left.slice(0, 6).join(', ')}` });
        if (command.output) {
          const strays = (await readdir(lab.outputFs)).filter((name) => name !== 'filler' && join(lab.outputFs, name) !== command.output!.path(lab));
          if (strays.length > 0) findings.push({ kind: 'corrupt', input, detail: `temp files left beside the output: ${strays.join(', ')}` });
          if (outcome.code !== 0) {
            // Nothing complete could be written: the output must not be there at all.
            const exists = (await readdir(lab.outputFs)).some((name) => join(lab.outputFs, name) === command.output!.path(lab));
            if (exists) findings.push({ kind: 'corrupt', input, detail: `the failed command left ${command.output.path(lab)} behind` });
          }
        }

        await rm(join(lab.storeFs, 'filler'), { force: true });
        await rm(join(lab.outputFs, 'filler'), { force: true });
        // What failed for lack of space must succeed once there is space (what fit has shown that already).
        const done = outcome.code === 0 ? outcome : await runGantry(lab.root, command.args(lab), { timeoutMs: 180_000 });
        if (outcome.code !== 0) {
          figures['reruns after freeing space']++;
          const failed = mustSucceed(done, `${input}; rerun with space freed`);
          if (failed) findings.push(failed);
        }
        if (command.output && done.code === 0) {
          const problem = await outputProblem(command.output.path(lab), command.output.kind, scratch);
          if (problem) findings.push({ kind: 'corrupt', input: `${input}; its output`, detail: problem });
        }
        for (const problem of await storeProblems(lab.root)) findings.push({ kind: 'corrupt', input: `${input}; rerun`, detail: problem });
        if (findings.length === before) handled++;
        options.log(`${input}: ${result}${findings.length > before ? `, ${findings.length - before} findings` : ''}`);
      }
    } finally {
      await stop();
    }
    return { unit: 'full-disk trials', tried, handled, findings, figures };
  },
};

export default suite;
