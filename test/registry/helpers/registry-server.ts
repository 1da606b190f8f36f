/**
 * Starts the CNCF distribution registry (Debian's `docker-registry`) on a random loopback port with
 * its storage in a temp dir: plain HTTP, htpasswd Basic auth over TLS, or token auth. Every started
 * registry is killed by `stop()`, and any still running when the test process exits is killed then.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface RegistryServer {
  /** "127.0.0.1:PORT" */
  host: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
}

export interface RegistryConfig {
  tls?: { certificate: string; key: string };
  htpasswd?: { realm: string; path: string };
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
}

export function requireTool(command: string, packageName: string): void {
  const result = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`the registry tests need \`${command}\` (Debian package ${packageName}); run scripts/install-deps.sh or install it`);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startRegistry(config: RegistryConfig = {}): Promise<RegistryServer> {
  requireTool('docker-registry', 'docker-registry');
  const dir = await mkdtemp(join(tmpdir(), 'gantry-registry-'));
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: registry-test-secret',
  ];
  if (config.tls) lines.push('  tls:', `    certificate: ${config.tls.certificate}`, `    key: ${config.tls.key}`);
  if (config.htpasswd) lines.push('auth:', '  htpasswd:', `    realm: ${config.htpasswd.realm}`, `    path: ${config.htpasswd.path}`);
  if (config.token) {
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${config.token.realm}`,
      `    service: ${config.token.service}`,
      `    issuer: ${config.token.issuer}`,
      `    rootcertbundle: ${config.token.rootCertBundle}`,
    );
  }
  const configPath = join(dir, 'config.yml');
  await writeFile(configPath, lines.join('\n') + '\n');
  const child = spawn('docker-registry', ['serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForPort(port, child, () => stderr);
  } catch (err) {
    child.kill('SIGKILL');
    running.delete(child);
    throw err;
  }
  return {
    host: `127.0.0.1:${port}`,
    port,
    dir,
    stop: async () => {
      if (running.delete(child)) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${stderr()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`docker-registry did not start listening on ${port}: ${stderr()}`);
}

/** A self-signed certificate (EC P-256) for 127.0.0.1, made with the openssl CLI. */
export async function selfSignedCertificate(dir: string, name: string): Promise<{ certificate: string; key: string }> {
  requireTool('openssl', 'openssl');
  const certificate = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const result = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', certificate, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`openssl failed: ${result.stderr}`);
  return { certificate, key };
}

/** An htpasswd file with bcrypt hashes (the only kind the registry accepts), made with apache2-utils' htpasswd. */
export async function htpasswdFile(dir: string, users: Record<string, string>): Promise<string> {
  requireTool('htpasswd', 'apache2-utils');
  const lines: string[] = [];
  for (const [user, password] of Object.entries(users)) {
    const result = spawnSync('htpasswd', ['-Bbn', '-C', '5', user, password], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`htpasswd failed: ${result.stderr}`);
    lines.push(result.stdout.trim());
  }
  const path = join(dir, 'htpasswd');
  await writeFile(path, lines.join('\n') + '\n');
  return path;
}
