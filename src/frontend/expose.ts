/**
 * EXPOSE port specs (`80`, `8000-8010/udp`, and the discouraged `[ip:]host:container` forms) into the
 * `port/proto` keys of an image's ExposedPorts, with the ExposeProtoCasing and ExposeInvalidFormat checks.
 */
import { isIP } from 'node:net';
import { GantryError } from '../util/index.js';
import { Messages, Rules, type Linter } from './checks.js';

/** Expands each spec into `port/proto` entries, in order. Throws a GantryError for a malformed spec. */
export function parseExposedPorts(specs: readonly string[], lint: Linter, line: number): string[] {
  return specs.flatMap((spec) => parsePort(spec, lint, line));
}

function parsePort(raw: string, lint: Linter, line: number): string[] {
  const [ip, hostPort, containerPart] = splitParts(raw);
  const slash = containerPart.indexOf('/');
  const containerPort = slash < 0 ? containerPart : containerPart.slice(0, slash);
  const protoWritten = slash < 0 ? '' : containerPart.slice(slash + 1);
  const hint = 'EXPOSE takes <port>[/tcp|/udp|/sctp] or a range <from>-<to>[/proto]';
  if (containerPort === '') throw new GantryError(`invalid port: "${raw}": no port specified`, { hint });
  let proto: string;
  switch (protoWritten.toLowerCase()) {
    case '':
      proto = 'tcp';
      break;
    case 'tcp':
    case 'udp':
    case 'sctp':
      proto = protoWritten;
      break;
    default:
      throw new GantryError(`invalid port: "${raw}": invalid proto: ${protoWritten}`, { hint });
  }
  if (proto !== proto.toLowerCase()) lint.run(Rules.ExposeProtoCasing, line, Messages.exposeProtoCasing(raw));
  if (ip !== '' || hostPort !== '') lint.run(Rules.ExposeInvalidFormat, line, Messages.exposeInvalidFormat(raw));

  let address = ip;
  if (address.startsWith('[')) {
    if (!address.endsWith(']')) throw new GantryError(`invalid IP address ${ip}`, { hint });
    address = address.slice(1, -1);
  }
  if (address !== '' && isIP(address) === 0) throw new GantryError(`invalid IP address: ${address}`, { hint });

  const container = parseRange(containerPort);
  if (!container) throw new GantryError(`invalid containerPort: ${containerPort}`, { hint });
  if (hostPort !== '') {
    const host = parseRange(hostPort);
    if (!host) throw new GantryError(`invalid hostPort: ${hostPort}`, { hint });
    // A host range is allowed against a single container port (it is the range to allocate from).
    if (container[1] - container[0] !== host[1] - host[0] && container[1] !== container[0]) {
      throw new GantryError(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`, { hint });
    }
  }
  const ports: string[] = [];
  for (let port = container[0]; port <= container[1]; port++) ports.push(`${port}/${proto.toLowerCase()}`);
  return ports;
}

/** [start, end] of `8000` or `8000-8010`, or undefined when malformed. */
function parseRange(text: string): [number, number] | undefined {
  const dash = text.indexOf('-');
  const start = parsePortNumber(dash < 0 ? text : text.slice(0, dash));
  if (start === undefined) return undefined;
  if (dash < 0 || text.slice(0, dash) === text.slice(dash + 1)) return [start, start];
  const end = parsePortNumber(text.slice(dash + 1));
  if (end === undefined || end < start) return undefined;
  return [start, end];
}

function parsePortNumber(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 0 && port <= 65535 ? port : undefined;
}

function splitParts(raw: string): [string, string, string] {
  const parts = raw.split(':');
  switch (parts.length) {
    case 1:
      return ['', '', parts[0]!];
    case 2:
      return ['', parts[0]!, parts[1]!];
    default:
      return [parts.slice(0, -2).join(':'), parts[parts.length - 2]!, parts[parts.length - 1]!];
  }
}
