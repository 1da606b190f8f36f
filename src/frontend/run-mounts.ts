/**
 * `RUN --mount=type=...,target=...` specs: CSV fields, per-type options and BuildKit's validation.
 * Values are expanded with the stage's variables before they are read. Turning a spec into a
 * RunMount (defaults, stage references, working directory) is the planner's job.
 */
import { GantryError } from '../util/index.js';
import { parseGoBool } from './directives.js';
import { suggest } from './suggest.js';

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';

export interface MountSpec {
  type: MountType;
  from: string;
  source: string;
  target: string;
  readonly: boolean;
  /** tmpfs size in bytes; 0 is unlimited. */
  sizeLimit: number;
  id: string;
  sharing?: 'shared' | 'private' | 'locked';
  required: boolean;
  /** Secret exposed as this environment variable. */
  env?: string;
  mode?: number;
  uid?: number;
  gid?: number;
}

const MOUNT_TYPES: MountType[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];
const SHARING_MODES = ['shared', 'private', 'locked'] as const;
const MOUNT_KEYS = [
  'type', 'from', 'source', 'target', 'readonly', 'id', 'sharing', 'required', 'size', 'mode', 'uid', 'gid', 'src', 'dst',
  'destination', 'ro', 'rw', 'readwrite', 'env',
];

/** Parses one --mount value; `expand` expands each option value. Throws a GantryError. */
export function parseMountSpec(text: string, expand: (value: string) => string): MountSpec {
  const fields = parseCsvFields(text);
  const spec: MountSpec = { type: 'bind', from: '', source: '', target: '', readonly: false, sizeLimit: 0, id: '', required: false };
  let readonlyWritten = false;
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      switch (key) {
        case 'readonly':
        case 'ro':
          spec.readonly = true;
          readonlyWritten = true;
          continue;
        case 'readwrite':
        case 'rw':
          spec.readonly = false;
          readonlyWritten = true;
          continue;
        case 'required':
          if (spec.type !== 'secret' && spec.type !== 'ssh') throw unexpectedKey(key, spec.type);
          spec.required = true;
          continue;
        default:
          throw new GantryError(`invalid field '${field}' must be a key=value pair`, {
            hint: 'mount options are key=value, except readonly, rw and required',
          });
      }
    }
    const value = expand(field.slice(eq + 1));
    switch (key) {
      case 'type': {
        const type = value.toLowerCase();
        if (!(MOUNT_TYPES as string[]).includes(type)) {
          const close = suggest(value, MOUNT_TYPES, true);
          throw new GantryError(`unsupported mount type "${value}"`, {
            hint: close ? `did you mean ${close}?` : `mount types are ${MOUNT_TYPES.join(', ')}`,
          });
        }
        spec.type = type as MountType;
        break;
      }
      case 'from':
        spec.from = value;
        break;
      case 'source':
      case 'src':
        spec.source = value;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        spec.target = value;
        break;
      case 'readonly':
      case 'ro':
        spec.readonly = boolValue(key, value);
        readonlyWritten = true;
        break;
      case 'readwrite':
      case 'rw':
        spec.readonly = !boolValue(key, value);
        readonlyWritten = true;
        break;
      case 'required':
        if (spec.type !== 'secret' && spec.type !== 'ssh') throw unexpectedKey(key, spec.type);
        spec.required = boolValue(key, value);
        break;
      case 'size':
        if (spec.type !== 'tmpfs') throw unexpectedKey(key, spec.type);
        spec.sizeLimit = ramInBytes(key, value);
        break;
      case 'id':
        spec.id = value;
        break;
      case 'sharing': {
        const sharing = value.toLowerCase();
        if (!(SHARING_MODES as readonly string[]).includes(sharing)) {
          const close = suggest(value, SHARING_MODES, true);
          throw new GantryError(`unsupported sharing value "${value}"`, {
            hint: close ? `did you mean ${close}?` : `sharing is one of ${SHARING_MODES.join(', ')}`,
          });
        }
        spec.sharing = sharing as MountSpec['sharing'];
        break;
      }
      case 'mode':
        spec.mode = parseUnsigned(value, 8, 'mode');
        break;
      case 'uid':
        spec.uid = parseUnsigned(value, 10, 'uid');
        break;
      case 'gid':
        spec.gid = parseUnsigned(value, 10, 'gid');
        break;
      case 'env':
        spec.env = value;
        break;
      default: {
        const close = suggest(key, MOUNT_KEYS, true);
        throw new GantryError(`unexpected key '${key}' in '${field}'`, {
          hint: close ? `did you mean ${close}?` : `mount options are ${MOUNT_KEYS.join(', ')}`,
        });
      }
    }
  }

  if (spec.type !== 'secret' && spec.type !== 'ssh' && spec.type !== 'cache') {
    for (const option of ['mode', 'uid', 'gid'] as const) {
      if (spec[option] !== undefined) {
        throw new GantryError(`${option} not allowed for "${spec.type}" type mounts`, {
          hint: `${option} applies to cache, secret and ssh mounts`,
        });
      }
    }
  }
  // Cache and tmpfs mounts are writable by default, bind, secret and ssh mounts read-only.
  if (!readonlyWritten) spec.readonly = spec.type !== 'cache' && spec.type !== 'tmpfs';
  if (spec.type === 'secret') {
    if (spec.from !== '') throw new GantryError('secret mount should not have a from');
    if (spec.sharing !== undefined) throw new GantryError('secret mount should not define sharing');
    if (spec.source === '' && spec.target === '' && spec.id === '') {
      throw new GantryError('invalid secret mount. one of source, target required', { hint: 'write --mount=type=secret,id=<id>' });
    }
    if (spec.source !== '' && spec.id !== '') throw new GantryError("both source and id can't be set", { hint: 'keep id= only' });
  }
  if (spec.sharing !== undefined && spec.type !== 'cache') {
    throw new GantryError(`invalid cache sharing set for ${spec.type} mount`, { hint: 'sharing= applies to cache mounts only' });
  }
  return spec;
}

/** Splits a CSV record (encoding/csv rules: commas separate, double quotes group, "" is a quote). */
export function parseCsvFields(text: string): string[] {
  const fields: string[] = [];
  let i = 0;
  const fail = (reason: string, column: number) =>
    new GantryError(`failed to parse csv mounts: parse error on line 1, column ${column}: ${reason}`, {
      hint: 'quote a mount option that contains a comma, e.g. "target=/a,b"',
    });
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw fail('extraneous or missing " in quoted-field', i + 1);
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += text[i++];
      }
      if (i < text.length && text[i] !== ',') throw fail('extraneous or missing " in quoted-field', i + 1);
    } else {
      while (i < text.length && text[i] !== ',') {
        if (text[i] === '"') throw fail('bare " in non-quoted-field', i + 1);
        field += text[i++];
      }
    }
    fields.push(field);
    if (i >= text.length) return fields;
    i++;
  }
}

function unexpectedKey(key: string, type: MountType): GantryError {
  return new GantryError(`unexpected key '${key}' for mount type '${type}'`, {
    hint: key === 'size' ? 'size= applies to tmpfs mounts' : `${key} applies to secret and ssh mounts`,
  });
}

function boolValue(key: string, value: string): boolean {
  const parsed = parseGoBool(value);
  if (parsed === undefined) throw new GantryError(`invalid value for ${key}: ${value}`, { hint: `${key} takes true or false` });
  return parsed;
}

function parseUnsigned(value: string, base: 8 | 10, name: string): number {
  const digits = base === 8 ? /^[0-7]+$/ : /^\d+$/;
  const parsed = digits.test(value) ? parseInt(value, base) : NaN;
  if (!Number.isFinite(parsed) || parsed > 0xffffffff) {
    throw new GantryError(`invalid value ${value} for ${name}`, {
      hint: base === 8 ? 'mode is an octal number such as 0755' : `${name} is a number`,
    });
  }
  return parsed;
}

/** go-units RAMInBytes: "64m", "1g", "512MiB", "100" (bytes); k, m, g, t, p are powers of 1024. */
function ramInBytes(key: string, text: string): number {
  const invalid = () => new GantryError(`invalid value for ${key}: ${text}`, { hint: 'size takes a number of bytes with an optional unit: 64m, 1g' });
  const sep = Math.max(...Array.from('01234567890. ').map((ch) => text.lastIndexOf(ch)));
  if (sep < 0) throw invalid();
  const number = text[sep] === ' ' ? text.slice(0, sep) : text.slice(0, sep + 1);
  let suffix = text.slice(sep + 1).toLowerCase();
  const size = Number(number);
  if (number.trim() === '' || !Number.isFinite(size) || size < 0) throw invalid();
  if (suffix === '') return Math.trunc(size);
  if (suffix.length > 3) throw invalid();
  if (suffix[0] === 'b') {
    if (suffix.length > 1) throw invalid();
    return Math.trunc(size);
  }
  const powers: Record<string, number> = { k: 1, m: 2, g: 3, t: 4, p: 5 };
  const power = powers[suffix[0]!];
  if (power === undefined) throw invalid();
  suffix = suffix.slice(1);
  if (suffix !== '' && suffix !== 'b' && suffix !== 'ib') throw invalid();
  return Math.trunc(size * 1024 ** power);
}
