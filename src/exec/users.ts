/**
 * Resolves Dockerfile user values ("name", "uid", "name:group", "uid:gid") against the /etc/passwd
 * and /etc/group of a root filesystem. For a process (USER), Docker's rules: a numeric user needs no
 * passwd entry; a name must exist; the primary group defaults to the passwd entry's (0 without one);
 * supplementary groups are the primary one plus, for a user given without a group, its /etc/group
 * memberships. For file owners (--chown), BuildKit's more lenient ones (resolveOwner).
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { resolveInRoot, errnoCode, GantryError } from '../util/index.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export function parsePasswd(text: string): PasswdEntry[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'))
    .filter((f) => f.length >= 4 && /^\d+$/.test(f[2]) && /^\d+$/.test(f[3]))
    .map((f) => ({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' }));
}

export function parseGroup(text: string): GroupEntry[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'))
    .filter((f) => f.length >= 3 && /^\d+$/.test(f[2]))
    .map((f) => ({ name: f[0], gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));
}

/** Real passwd and group files are a few KiB; a larger one is refused rather than read into memory. */
const MAX_ETC_FILE_BYTES = 4 * 1024 * 1024;

/**
 * /etc/passwd or /etc/group of an image. The image chooses what is there: only a regular file is
 * read (opened without following a last link and without blocking, so a FIFO cannot hang the build
 * and a device node cannot feed it the host's /dev/zero), and only up to a size cap.
 */
async function readEtc(rootfs: string, file: string): Promise<string> {
  let handle;
  try {
    handle = await open(await resolveInRoot(rootfs, `/etc/${file}`), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return '';
    if (errnoCode(err) === 'ELOOP') throw notRegular(file, 'a symbolic link');
    throw err;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw notRegular(file, info.isFIFO() ? 'a FIFO' : info.isCharacterDevice() || info.isBlockDevice() ? 'a device node' : 'not a regular file');
    if (info.size > MAX_ETC_FILE_BYTES) throw new GantryError(`/etc/${file} in the image is ${info.size} bytes, more than the ${MAX_ETC_FILE_BYTES} gantry reads`);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

function notRegular(file: string, what: string): GantryError {
  return new GantryError(`/etc/${file} in the image is ${what}; users and groups are looked up only in a regular file`, {
    hint: `make /etc/${file} a regular file in an earlier step or in the base image`,
  });
}

const MAX_ID = 2 ** 32 - 2;

function parseId(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const id = Number(text);
  return id <= MAX_ID ? id : undefined;
}

/** `spec` is "user", "user:group" or empty (uid 0), for a process (RUN, gantry run). */
export async function resolveUser(rootfs: string, spec: string): Promise<ResolvedUser> {
  const [userPart, groupPart] = splitUserSpec(spec);
  if (userPart === '' && groupPart === undefined) {
    // No USER is uid 0 looked up like any user (so root gets its /etc/group memberships), as in BuildKit.
    return resolveUser(rootfs, '0');
  }
  const passwd = parsePasswd(await readEtc(rootfs, 'passwd'));
  const numericUid = parseId(userPart);
  const entry = numericUid !== undefined ? passwd.find((p) => p.uid === numericUid) : passwd.find((p) => p.name === userPart);
  if (!entry && numericUid === undefined) {
    throw new GantryError(`unable to find user ${userPart}: no matching entries in passwd file`, {
      hint: `create the user in an earlier step (e.g. RUN adduser -D ${userPart}) or use a numeric uid`,
    });
  }
  const uid = entry?.uid ?? (numericUid as number);
  let gid = entry?.gid ?? 0;
  const groups = parseGroup(await readEtc(rootfs, 'group'));
  if (groupPart !== undefined && groupPart !== '') {
    const numericGid = parseId(groupPart);
    const group = numericGid !== undefined ? undefined : groups.find((g) => g.name === groupPart);
    if (numericGid === undefined && !group) {
      throw new GantryError(`unable to find group ${groupPart}: no matching entries in group file`, {
        hint: `create the group in an earlier step (e.g. RUN addgroup ${groupPart}) or use a numeric gid`,
      });
    }
    gid = numericGid ?? (group as GroupEntry).gid;
  }
  const memberships = entry && groupPart === undefined ? groups.filter((g) => g.members.includes(entry.name)).map((g) => g.gid) : [];
  // The primary group leads the list, as BuildKit (after containerd) sets it: `id` shows it among the groups.
  const additionalGids = [...new Set([gid, ...memberships])];
  return { uid, gid, additionalGids, home: entry?.home ?? '/' };
}

function splitUserSpec(spec: string): [string, string | undefined] {
  const trimmed = spec.trim();
  const colon = trimmed.indexOf(':');
  return colon < 0 ? [trimmed, undefined] : [trimmed.slice(0, colon), trimmed.slice(colon + 1)];
}

/**
 * The owner for COPY/ADD --chown and WORKDIR under USER, as BuildKit's file operations resolve it:
 * a numeric user is its own group too; a name takes its passwd entry's uid and gid; a group, by name
 * or number, replaces the gid. A name with no entry (or no passwd/group file) resolves to 0, never an
 * error, as in BuildKit.
 */
export async function resolveOwner(rootfs: string, spec: string): Promise<{ uid: number; gid: number }> {
  const [userPart, groupPart] = splitUserSpec(spec);
  let uid = 0;
  let gid = 0;
  const numericUid = parseId(userPart);
  if (numericUid !== undefined) {
    uid = numericUid;
    gid = numericUid;
  } else if (userPart !== '') {
    const entry = parsePasswd(await readEtc(rootfs, 'passwd')).find((p) => p.name === userPart);
    if (entry) ({ uid, gid } = entry);
  }
  if (groupPart !== undefined && groupPart !== '') {
    const numericGid = parseId(groupPart);
    const group = numericGid === undefined ? parseGroup(await readEtc(rootfs, 'group')).find((g) => g.name === groupPart) : undefined;
    gid = numericGid ?? group?.gid ?? gid;
  }
  return { uid, gid };
}
