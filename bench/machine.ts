/** The machine a run was measured on, for the report. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { availableParallelism, release, totalmem } from 'node:os';
import { basename } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  os: string;
  /** Block device, filesystem and size of the benchmark's working directory. */
  disk: string;
}

export async function describeMachine(workDir: string): Promise<MachineInfo> {
  return {
    cpu: await cpuModel(),
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    os: await osName(),
    disk: await diskOf(workDir),
  };
}

async function output(file: string, args: string[]): Promise<string> {
  return (await execFileAsync(file, args, { encoding: 'utf8' })).stdout;
}

async function cpuModel(): Promise<string> {
  const lscpu = await output('lscpu', []).catch(() => '');
  const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'm').exec(lscpu)?.[1].trim();
  const model = field('Model name') ?? 'unknown CPU';
  const hypervisor = field('Hypervisor vendor');
  return hypervisor ? `${model} (virtual machine, ${hypervisor})` : model;
}

async function osName(): Promise<string> {
  const text = await readFile('/etc/os-release', 'utf8').catch(() => '');
  return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text)?.[1] ?? 'unknown';
}

async function diskOf(dir: string): Promise<string> {
  const df = await output('df', ['--output=source,fstype,size', '-h', dir]).catch(() => '');
  const [source, fstype, size] = (df.trim().split('\n')[1] ?? '').trim().split(/\s+/);
  if (!source) return 'unknown';
  const rotational = await readFile(`/sys/block/${basename(source)}/queue/rotational`, 'utf8').catch(() => undefined);
  const kind = rotational === undefined ? '' : rotational.trim() === '1' ? ', reported rotational' : ', reported non-rotational';
  return `${source} (${fstype}, ${size}${kind})`;
}
