/**
 * A local HTTP server for ADD <url> trials: each path answers as the trial set it — a body, a body
 * cut short of its Content-Length, a gzip Content-Encoding, a redirect anywhere, an error status, a
 * dropped connection. Unknown paths are 404.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Answer =
  | { kind: 'body'; body: Buffer; status?: number; headers?: Record<string, string> }
  | { kind: 'short'; body: Buffer; declared: number }
  | { kind: 'redirect'; status: number; location: string }
  | { kind: 'drop' };

export interface AnswerServer {
  /** "http://127.0.0.1:PORT" */
  base: string;
  set(path: string, answer: Answer): void;
  close(): Promise<void>;
}

export async function startAnswerServer(): Promise<AnswerServer> {
  const answers = new Map<string, Answer>();
  const server: Server = createServer((req, res) => {
    const answer = answers.get(req.url ?? '');
    req.resume();
    if (!answer) {
      res.writeHead(404).end('not found');
      return;
    }
    switch (answer.kind) {
      case 'drop':
        req.socket.destroy();
        return;
      case 'redirect':
        res.writeHead(answer.status, { location: answer.location }).end();
        return;
      case 'short':
        res.writeHead(200, { 'content-length': String(answer.declared) });
        res.write(answer.body, () => setTimeout(() => res.destroy(), 20));
        return;
      default:
        res.writeHead(answer.status ?? 200, { 'content-length': String(answer.body.length), ...answer.headers });
        res.end(answer.body);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    set: (path, answer) => void answers.set(path, answer),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
