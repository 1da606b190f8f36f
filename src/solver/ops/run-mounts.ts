/**
 * RUN --mount: turns the plan's mounts into runtime-spec mounts, with BuildKit's semantics.
 * bind: a stage/image root (a throwaway writable snapshot, so writes are discarded) or the build
 * context (a private copy of the selected files); cache: a persistent directory in the store, keyed
 * by id, locked for sharing=locked/private; tmpfs; secret: a file or env var from --secret, handed to
 * the runtime to keep in memory (never on disk, in a layer or in a cache key); ssh: the agent socket
 * from --ssh. Everything is released by `release()`.
 */
import { createHash } from 'node:crypto';
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunMount } from '../../frontend/index.js';
import type { SecretFile, SpecMount } from '../../exec/index.js';
import { acquireLock, withLock, type HeldLock } from '../../store/index.js';
import { GantryError, copyTreePreserving } from '../../util/index.js';
import type { ExecContext } from '../exec-context.js';

export interface PreparedMounts {
  mounts: SpecMount[];
  /** Extra environment (SSH_AUTH_SOCK). */
  env: string[];
  /** Secrets, for the runtime to keep in memory: files, and environment entries (env=...). */
  secrets: { files: SecretFile[]; env: string[] };
  release(): Promise<void>;
}

export interface MountSources {
  /** The host path to mount for a bind mount, or to seed a cache mount from: `source` inside a stage, an image, or the build context. */
  sourcePath(mount: Extract<RunMount, { type: 'bind' | 'cache' }>): Promise<{ path: string; release(): Promise<void> }>;
}

export async function prepareRunMounts(mounts: RunMount[], ctx: ExecContext, sources: MountSources): Promise<PreparedMounts> {
  const specMounts: SpecMount[] = [];
  const env: string[] = [];
  const secrets: PreparedMounts['secrets'] = { files: [], env: [] };
  const releases: Array<() => Promise<void>> = [];
  const release = async () => {
    for (const r of releases.reverse()) await r().catch(() => undefined);
  };
  try {
    for (const mount of mounts) {
      switch (mount.type) {
        case 'bind': {
          const source = await sources.sourcePath(mount);
          releases.push(source.release);
          specMounts.push({ destination: mount.target, type: 'bind', source: source.path, options: ['rbind', mount.readonly ? 'ro' : 'rw'] });
          break;
        }
        case 'cache': {
          const dir = join(ctx.store.cacheMountsDir, createHash('sha256').update(mount.id).digest('hex').slice(0, 32));
          if (mount.sharing !== 'shared') {
            const lock: HeldLock = await acquireLock(`${dir}.lock`, 'exclusive');
            releases.push(() => lock.release());
            await createCacheDir(dir, mount, sources);
          } else {
            // A shared cache is made under the lock all the same: two RUNs using a new one at once must not both create (and wipe) it.
            await withLock(`${dir}.lock`, 'exclusive', () => createCacheDir(dir, mount, sources));
          }
          specMounts.push({ destination: mount.target, type: 'bind', source: join(dir, 'data'), options: ['rbind', mount.readonly ? 'ro' : 'rw'] });
          break;
        }
        case 'tmpfs':
          specMounts.push({
            destination: mount.target,
            type: 'tmpfs',
            source: 'tmpfs',
            options: ['nosuid', 'nodev', ...(mount.size !== undefined ? [`size=${mount.size}`] : [])],
          });
          break;
        case 'secret': {
          const value = await readSecret(mount.id, ctx);
          if (value === undefined) {
            if (mount.required) {
              throw new GantryError(`secret "${mount.id}" is required by RUN --mount but was not provided`, {
                hint: `pass --secret id=${mount.id},src=FILE (or env=VARIABLE) to gantry build`,
              });
            }
            break;
          }
          if (mount.env) secrets.env.push(`${mount.env}=${value.toString('utf8')}`);
          if (mount.target || !mount.env) {
            secrets.files.push({ destination: mount.target ?? `/run/secrets/${mount.id}`, content: value, uid: mount.uid, gid: mount.gid, mode: mount.mode });
          }
          break;
        }
        case 'ssh': {
          const socket = ctx.sshAgents.get(mount.id);
          if (!socket) {
            if (mount.required) {
              throw new GantryError(`ssh agent "${mount.id}" is required by RUN --mount=type=ssh but was not provided`, {
                hint: `pass --ssh ${mount.id}[=SOCKET] to gantry build (default: $SSH_AUTH_SOCK)`,
              });
            }
            break;
          }
          specMounts.push({ destination: mount.target, type: 'bind', source: socket, options: ['rbind', 'rw'] });
          env.push(`SSH_AUTH_SOCK=${mount.target}`);
          break;
        }
      }
    }
  } catch (err) {
    await release();
    throw err;
  }
  return { mounts: specMounts, env, secrets, release };
}

async function readSecret(id: string, ctx: ExecContext): Promise<Buffer | undefined> {
  const source = ctx.secrets.get(id);
  if (!source) return undefined;
  if (source.file) {
    try {
      return await readFile(source.file);
    } catch (err) {
      throw new GantryError(`secret "${id}": cannot read ${source.file}: ${(err as Error).message}`);
    }
  }
  const value = source.env ? process.env[source.env] : undefined;
  if (value === undefined) throw new GantryError(`secret "${id}": environment variable ${source.env} is not set`);
  return Buffer.from(value, 'utf8');
}

/** Creates a cache mount's directory on first use, seeded from `from` when given. */
async function createCacheDir(dir: string, mount: Extract<RunMount, { type: 'cache' }>, sources: MountSources): Promise<void> {
  const data = join(dir, 'data');
  const marker = join(dir, 'ready');
  try {
    await readFile(marker);
    return;
  } catch {
    // first use
  }
  await rm(data, { recursive: true, force: true });
  await mkdir(data, { recursive: true });
  if (mount.from) {
    const seed = await sources.sourcePath(mount);
    try {
      await copyTreePreserving(seed.path, data, 'seeding the cache mount');
    } finally {
      await seed.release();
    }
  }
  await chown(data, mount.uid, mount.gid);
  await chmod(data, mount.mode);
  await writeFile(marker, '');
}
