/**
 * An HTTP proxy in front of a plain-HTTP registry that injects faults into matching requests: an
 * answer of its own (an error status such as 500 or 429 with Retry-After, a redirect, or any status,
 * headers and body: a crafted manifest), a connection dropped before answering or after N body bytes,
 * a corrupted body byte, a slow body, the registry's answer with headers replaced (a wrong
 * Content-Type or Docker-Content-Digest, a huge header) or with bytes appended past its end. It keeps
 * the client's Host header, so the registry's Location URLs point back at the proxy, and logs every request.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export type Fault =
  /** Answered by the proxy; `body` defaults to a registry error document. */
  | { type: 'status'; status: number; headers?: Record<string, string>; body?: Buffer }
  | { type: 'drop-request' }
  | { type: 'drop-after'; bytes: number }
  | { type: 'corrupt'; at: number }
  | { type: 'slow'; chunkBytes: number; delayMs: number }
  /** The registry's answer with these headers set (replacing its own of the same name). */
  | { type: 'headers'; set: Record<string, string> }
  /** The registry's answer followed by `bytes` more (its Content-Length dropped). */
  | { type: 'extend'; bytes: number };

export interface FaultRule {
  method?: string;
  /** Matches the request path (with query). */
  path: RegExp;
  fault: Fault;
  /** How many matching requests get the fault (default 1; Infinity for all). */
  times?: number;
}

export interface ProxyLogEntry {
  method: string;
  path: string;
  range?: string;
  status?: number;
  fault?: Fault['type'];
}

export interface FaultProxy {
  host: string;
  log: ProxyLogEntry[];
  /** Adds a rule; rules are consulted in the order added. */
  inject(rule: FaultRule): void;
  clear(): void;
  close(): Promise<void>;
}

export async function startFaultProxy(upstreamPort: number): Promise<FaultProxy> {
  const rules: Array<FaultRule & { used: number }> = [];
  const log: ProxyLogEntry[] = [];

  const pick = (req: IncomingMessage): Fault | undefined => {
    for (const rule of rules) {
      if (rule.method && rule.method !== req.method) continue;
      if (!rule.path.test(req.url ?? '')) continue;
      if (rule.used >= (rule.times ?? 1)) continue;
      rule.used++;
      return rule.fault;
    }
    return undefined;
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const entry: ProxyLogEntry = { method: req.method ?? 'GET', path: req.url ?? '/', range: req.headers.range };
    log.push(entry);
    const fault = pick(req);
    entry.fault = fault?.type;
    if (fault?.type === 'drop-request') {
      req.socket.destroy();
      return;
    }
    if (fault?.type === 'status') {
      req.resume();
      entry.status = fault.status;
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
      res.end(fault.body ?? JSON.stringify({ errors: [{ code: 'UNKNOWN', message: 'injected fault' }] }));
      return;
    }
    const upstream = request(
      { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers },
      (upstreamRes) => {
        entry.status = upstreamRes.statusCode;
        const headers = { ...upstreamRes.headers };
        if (fault?.type === 'headers') Object.assign(headers, fault.set);
        if (fault?.type === 'extend') delete headers['content-length'];
        res.writeHead(upstreamRes.statusCode ?? 502, headers);
        void relayBody(upstreamRes, res, fault);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    log,
    inject: (rule) => rules.push({ ...rule, used: 0 }),
    clear: () => {
      rules.length = 0;
      log.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function relayBody(from: IncomingMessage, to: ServerResponse, fault: Fault | undefined): Promise<void> {
  let sent = 0;
  try {
    for await (const piece of from) {
      let chunk = piece as Buffer;
      if (fault?.type === 'drop-after' && sent + chunk.length >= fault.bytes) {
        await new Promise((resolve) => to.write(chunk.subarray(0, fault.bytes - sent), resolve));
        // Time for the client to take in the bytes sent, so the cut comes after them, not before.
        await new Promise((resolve) => setTimeout(resolve, 300));
        to.socket?.destroy();
        from.destroy();
        return;
      }
      if (fault?.type === 'corrupt' && fault.at >= sent && fault.at < sent + chunk.length) {
        chunk = Buffer.from(chunk);
        chunk[fault.at - sent] ^= 0xff;
      }
      if (fault?.type === 'slow') {
        for (let offset = 0; offset < chunk.length; offset += fault.chunkBytes) {
          if (to.destroyed || to.socket?.destroyed !== false) {
            // The client gave up (a timeout): stop feeding it.
            from.destroy();
            return;
          }
          to.write(chunk.subarray(offset, offset + fault.chunkBytes));
          await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
        }
      } else if (!to.write(chunk)) {
        await new Promise((resolve) => to.once('drain', resolve));
      }
      sent += chunk.length;
    }
    if (fault?.type === 'extend') to.write(Buffer.alloc(fault.bytes, 0x7b));
    to.end();
  } catch {
    to.destroy();
  }
}
