/**
 * Instruction flags (`--from=build`, `--link`, `--mount=...`): each instruction declares the flags it
 * takes, and anything else is an error that names the flag and the ones it could have meant.
 */
import { GantryError } from '../util/index.js';
import { suggest } from './suggest.js';

type FlagKind = 'bool' | 'string' | 'strings';

interface FlagDefinition {
  kind: FlagKind;
  value: string;
  values: string[];
  used: boolean;
}

/** Which instructions take a flag, for "flag on the wrong instruction" hints. */
const FLAG_OWNERS: Record<string, string[]> = {
  platform: ['FROM'],
  from: ['COPY'],
  chown: ['COPY', 'ADD'],
  chmod: ['COPY', 'ADD'],
  link: ['COPY', 'ADD'],
  exclude: ['COPY', 'ADD'],
  parents: ['COPY'],
  checksum: ['ADD'],
  'keep-git-dir': ['ADD'],
  unpack: ['ADD'],
  mount: ['RUN'],
  network: ['RUN'],
  security: ['RUN'],
  device: ['RUN'],
  interval: ['HEALTHCHECK'],
  timeout: ['HEALTHCHECK'],
  'start-period': ['HEALTHCHECK'],
  'start-interval': ['HEALTHCHECK'],
  retries: ['HEALTHCHECK'],
};

export class FlagSet {
  private readonly definitions = new Map<string, FlagDefinition>();

  /**
   * @param args the flags as written, e.g. ["--from=build", "--link"]
   * @param instruction the instruction name in upper case, for messages
   */
  constructor(
    private readonly args: readonly string[],
    private readonly instruction: string,
  ) {}

  addBool(name: string, defaultValue = false): void {
    this.definitions.set(name, { kind: 'bool', value: String(defaultValue), values: [], used: false });
  }

  addString(name: string, defaultValue = ''): void {
    this.definitions.set(name, { kind: 'string', value: defaultValue, values: [], used: false });
  }

  addStrings(name: string): void {
    this.definitions.set(name, { kind: 'strings', value: '', values: [], used: false });
  }

  /** Reads the flags. Throws a GantryError (no location) for unknown, repeated or malformed flags. */
  parse(): void {
    for (const arg of this.args) {
      // A lone `--` ends the flags.
      if (arg === '--') return;
      if (!arg.startsWith('--')) throw new GantryError(`arg should start with -- : ${arg}`);
      const eq = arg.indexOf('=');
      const flagName = eq < 0 ? arg : arg.slice(0, eq);
      const value = eq < 0 ? '' : arg.slice(eq + 1);
      const hasValue = eq >= 0;
      const name = flagName.slice(2);
      const definition = this.definitions.get(name);
      if (!definition) throw this.unknownFlag(flagName, name);
      if (definition.used && definition.kind !== 'strings') {
        throw new GantryError(`duplicate flag specified: ${flagName}`, { hint: `give ${flagName} once` });
      }
      definition.used = true;
      switch (definition.kind) {
        case 'bool': {
          if (hasValue && value === '') throw new GantryError(`missing a value on flag: ${flagName}`);
          const lower = value.toLowerCase();
          if (lower === 'true' || lower === '') definition.value = 'true';
          else if (lower === 'false') definition.value = 'false';
          else {
            throw new GantryError(`expecting boolean value for flag ${flagName}, not: ${value}`, {
              hint: `write ${flagName}, ${flagName}=true or ${flagName}=false`,
            });
          }
          break;
        }
        case 'string':
          if (!hasValue) throw new GantryError(`missing a value on flag: ${flagName}`, { hint: `write ${flagName}=<value>` });
          definition.value = value;
          break;
        case 'strings':
          if (!hasValue) throw new GantryError(`missing a value on flag: ${flagName}`, { hint: `write ${flagName}=<value>` });
          definition.values.push(value);
          break;
      }
    }
  }

  isUsed(name: string): boolean {
    return this.definition(name).used;
  }

  bool(name: string): boolean {
    return this.definition(name).value === 'true';
  }

  /** A boolean flag's value, or undefined when it was not given. */
  optionalBool(name: string): boolean | undefined {
    const definition = this.definition(name);
    return definition.used ? definition.value === 'true' : undefined;
  }

  string(name: string): string {
    return this.definition(name).value;
  }

  strings(name: string): string[] {
    return [...this.definition(name).values];
  }

  /** Names of the flags given, in declaration order. */
  usedNames(): string[] {
    return [...this.definitions].filter(([, definition]) => definition.used).map(([name]) => name);
  }

  private definition(name: string): FlagDefinition {
    const definition = this.definitions.get(name);
    if (!definition) throw new Error(`flag --${name} was not declared for ${this.instruction}`);
    return definition;
  }

  private unknownFlag(flagName: string, name: string): GantryError {
    const known = [...this.definitions.keys()];
    const close = suggest(name, known, true);
    const owners = FLAG_OWNERS[name];
    const takes =
      known.length === 0 ? `${this.instruction} takes no flags` : `${this.instruction} takes ${known.map((k) => `--${k}`).join(', ')}`;
    let hint: string;
    if (close) hint = `did you mean --${close}? ${takes}`;
    else if (owners && !owners.includes(this.instruction)) hint = `--${name} is a flag of ${owners.join(' and ')}; ${takes}`;
    else hint = takes;
    return new GantryError(`unknown flag: ${flagName}`, { hint });
  }
}
