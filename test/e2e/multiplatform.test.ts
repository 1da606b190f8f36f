/**
 * One build, two architectures: busybox bases for amd64 and arm64 (Debian's packages), RUN under QEMU
 * for arm64, one image index, BUILDPLATFORM stages built once, platform-independent layers shared.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { importBusyboxIndex } from '../helpers/base-image.js';
import { gantry, gantryOk, isRoot, tempDir } from '../helpers/gantry.js';
import { stepOutcomes } from '../helpers/build-events.js';
import { startRegistry, type RegistryServer } from '../registry/helpers/registry-server.js';

const run = promisify(execFile);
const skip = (!isRoot || process.arch !== 'x64') && 'needs root on an amd64 machine (overlay mounts, runc, binfmt_misc)';

let root: { path: string; cleanup(): Promise<void> };
let context: { path: string; cleanup(): Promise<void> };
let registry: RegistryServer | undefined;
let buildStderr = '';

interface IndexDocument {
  mediaType: string;
  manifests: Array<{ digest: string; platform: { os: string; architecture: string } }>;
}

before(async () => {
  if (skip) return;
  root = await tempDir('multi-root');
  context = await tempDir('multi-context');
  await gantryOk(root.path, ['setup', 'binfmt']);
  await importBusyboxIndex(root.path);
  await writeFile(join(context.path, 'hello.txt'), 'hello from every platform\n');
  await writeFile(
    join(context.path, 'Dockerfile'),
    `FROM --platform=$BUILDPLATFORM busybox AS tools
ARG BUILDPLATFORM
RUN echo "tools built on $BUILDPLATFORM ($(uname -m))" > /tools.txt
FROM busybox
ARG TARGETPLATFORM
ARG TARGETARCH
COPY --from=tools /tools.txt /tools.txt
COPY --link hello.txt /hello.txt
RUN uname -m > /uname.txt && echo "$TARGETPLATFORM $TARGETARCH" > /target.txt
`,
  );
  const result = await gantryOk(root.path, ['build', '--progress', 'json', '--platform', 'linux/amd64,linux/arm64', '-t', 'multi:latest', context.path]);
  buildStderr = result.stderr;
});

after(async () => {
  await registry?.stop();
  await root?.cleanup();
  await context?.cleanup();
});

test('RUN gives x86_64 and aarch64 in the two images, with the right automatic args', { skip }, async () => {
  const amd = await gantryOk(root.path, ['run', '--platform', 'linux/amd64', 'multi:latest', 'cat', '/uname.txt', '/target.txt', '/tools.txt']);
  assert.equal(amd.stdout, 'x86_64\nlinux/amd64 amd64\ntools built on linux/amd64 (x86_64)\n');
  const arm = await gantryOk(root.path, ['run', '--platform', 'linux/arm64', 'multi:latest', 'cat', '/uname.txt', '/target.txt', '/tools.txt']);
  assert.equal(arm.stdout, 'aarch64\nlinux/arm64 arm64\ntools built on linux/amd64 (x86_64)\n');
});

test('the store holds an index listing both platforms, which skopeo reads', { skip }, async () => {
  const { stdout } = await run('skopeo', ['inspect', '--raw', `oci:${root.path}:multi:latest`]);
  const index = JSON.parse(stdout) as IndexDocument;
  assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.deepEqual(index.manifests.map((m) => m.platform), [
    { os: 'linux', architecture: 'amd64' },
    { os: 'linux', architecture: 'arm64' },
  ]);
  const images = await gantryOk(root.path, ['images']);
  assert.match(images.stdout, /multi\s+latest\s+\w+\s+.*linux\/amd64,linux\/arm64/);
  const inspected = JSON.parse((await gantryOk(root.path, ['inspect', '--platform', 'linux/arm64', 'multi:latest'])).stdout) as Array<{ Architecture: string; IndexDigest: string }>;
  assert.equal(inspected[0].Architecture, 'arm64');
  assert.ok(inspected[0].IndexDigest);
});

test('the BUILDPLATFORM stage runs once and the --link layer is one blob for both platforms', { skip }, async () => {
  const outcomes = stepOutcomes(buildStderr);
  const tools = outcomes.filter((o) => o.label.includes('tools 2/2'));
  assert.equal(tools.length, 2);
  assert.equal(tools.filter((o) => !o.cached).length, 1, 'one platform runs it, the other reuses it');
  const links = outcomes.filter((o) => o.label.includes('COPY --link'));
  assert.equal(links.filter((o) => !o.cached).length, 1);
  const layersOf = async (platform: string) =>
    (JSON.parse((await gantryOk(root.path, ['inspect', '--platform', platform, 'multi:latest'])).stdout) as Array<{ LayerBlobs: Array<{ Digest: string }> }>)[0].LayerBlobs.map((l) => l.Digest);
  const amdLayers = await layersOf('linux/amd64');
  const armLayers = await layersOf('linux/arm64');
  // base, COPY --from=tools, COPY --link, RUN: the --link layer (index 2) is the same blob.
  assert.equal(amdLayers[2], armLayers[2]);
  assert.notEqual(amdLayers[0], armLayers[0]);
});

test('a docker archive of a multi-platform image is refused, naming --platform', { skip }, async () => {
  const out = join(context.path, 'multi.tar');
  const result = await gantry(root.path, ['build', '-q', '--platform', 'linux/amd64,linux/arm64', '--output', `type=docker,dest=${out}`, context.path]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /platform/);
  assert.match(result.stderr, /--platform/);
  const oci = await gantryOk(root.path, ['build', '-q', '--platform', 'linux/amd64,linux/arm64', '--output', `type=oci,dest=${join(context.path, 'multi-oci.tar')}`, context.path]);
  assert.match(oci.stdout, /^sha256:/);
  const { stdout } = await run('skopeo', ['inspect', '--raw', `oci-archive:${join(context.path, 'multi-oci.tar')}`]);
  assert.equal((JSON.parse(stdout) as IndexDocument).manifests.length, 2);
});

test('a base image without the requested platform fails listing the ones it has', { skip }, async () => {
  const result = await gantry(root.path, ['build', '--platform', 'linux/s390x', context.path]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /linux\/s390x/);
  assert.match(result.stderr, /linux\/amd64, linux\/arm64/);
});

test('an unknown or malformed platform is a clear error', { skip }, async () => {
  const result = await gantry(root.path, ['build', '--platform', 'linux/armx64', context.path]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /unknown architecture "armx64"/);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
});

test('pushing the index puts both platforms in the registry', { skip }, async () => {
  registry = await startRegistry();
  await gantryOk(root.path, ['tag', 'multi:latest', `${registry.host}/multi:1`]);
  await gantryOk(root.path, ['push', '-q', `${registry.host}/multi:1`]);
  const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/multi:1`]);
  assert.deepEqual((JSON.parse(stdout) as IndexDocument).manifests.map((m) => m.platform.architecture), ['amd64', 'arm64']);
});

test('the first build for another platform says the platform is what changed', { skip }, async () => {
  const dir = await tempDir('multi-explain');
  try {
    await writeFile(join(dir.path, 'Dockerfile'), 'FROM busybox\nRUN echo "$(uname -m)" > /arch\n');
    await gantryOk(root.path, ['build', '-q', '--platform', 'linux/amd64', dir.path]);
    const arm = await gantryOk(root.path, ['build', '--progress', 'json', '--platform', 'linux/arm64', dir.path]);
    const run = stepOutcomes(arm.stderr).find((o) => o.label.includes('RUN'));
    assert.equal(run?.cause, 'platform: linux/amd64 → linux/arm64');
  } finally {
    await dir.cleanup();
  }
});

test('manifest create --local makes an index of local images and refuses two images for one platform', { skip }, async () => {
  const made = await gantryOk(root.path, ['manifest', 'create', '--local', 'pair:1', 'busybox-arm64:latest', 'busybox-amd64:latest']);
  assert.match(made.stdout, /^sha256:[a-f0-9]{64}\n$/);
  const images = await gantryOk(root.path, ['images']);
  assert.match(images.stdout, /pair\s+1\s+\w+\s+.*linux\/arm64,linux\/amd64/);
  const clash = await gantry(root.path, ['manifest', 'create', '--local', 'clash:1', 'multi:latest', 'busybox-amd64:latest']);
  assert.equal(clash.code, 1);
  assert.match(clash.stderr, /are both images for linux\/amd64/);
});
