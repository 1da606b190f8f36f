import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planBuild } from '../../src/frontend/index.js';
import { checkEntitlements, requiredEntitlements, type Entitlement } from '../../src/solver/entitlements.js';
import type { NetworkMode } from '../../src/solver/exec-context.js';
import { formatGantryError, GantryError } from '../../src/util/errors.js';
import { amd64, arm64, planOptions } from '../frontend/fixtures.js';

const DOCKERFILE = [
  'FROM busybox AS tools',
  'RUN --security=insecure mount -t tmpfs t /mnt',
  'FROM busybox',
  'RUN echo sandboxed',
  'RUN --network=host wget http://127.0.0.1/',
  'RUN --network=none true',
  '',
].join('\n');

async function plans(text: string, target?: string) {
  return [await planBuild(text, planOptions({ target })), await planBuild(text, planOptions({ target, targetPlatform: arm64, buildPlatform: amd64 }))];
}

function refusal(fn: () => void): GantryError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof GantryError, String(err));
    return err;
  }
  assert.fail('the check passed');
}

test('RUN --network=host needs network.host; the error names the step, the entitlement and both grants', async () => {
  const all = await plans(DOCKERFILE);
  const err = refusal(() => checkEntitlements(all, 'default', new Set()));
  assert.equal(err.location?.file, 'Dockerfile');
  assert.equal(err.location?.line, 5);
  assert.equal(err.location?.column, 1);
  assert.match(err.message, /RUN --network=host wget http:\/\/127\.0\.0\.1\/ asks for the host's network, which needs the network\.host entitlement/);
  assert.match(err.hint ?? '', /--allow network\.host/);
  assert.match(err.hint ?? '', /"entitlements": \["network\.host"\]/);
  assert.match(formatGantryError(err), /^Dockerfile:5:1: .*\n {2}5 \| RUN --network=host wget/);
  assert.doesNotMatch(err.message, /more step/, 'the same line planned for two platforms is one refusal');
  checkEntitlements(all, 'default', new Set<Entitlement>(['network.host']));
});

test('RUN --security=insecure needs security.insecure, in every stage the build needs and only those', async () => {
  const withTools = DOCKERFILE.replace('FROM busybox\n', 'FROM busybox\nCOPY --from=tools /bin/sh /sh\n');
  const needed = await plans(withTools);
  const first = refusal(() => checkEntitlements(needed, 'default', new Set()));
  assert.equal(first.location?.line, 2);
  assert.match(first.message, /security\.insecure entitlement.*\(1 more step also needs an entitlement\)/);
  assert.match(first.hint ?? '', /--allow security\.insecure/);
  const both = new Set<Entitlement>(['network.host', 'security.insecure']);
  checkEntitlements(needed, 'default', both);
  // Without the COPY --from, the tools stage is not part of the build and needs nothing.
  checkEntitlements(await plans(DOCKERFILE), 'default', new Set<Entitlement>(['network.host']));
});

test("a build on the host's network needs network.host for every RUN that does not choose its own network", async () => {
  const [plan] = await plans(DOCKERFILE);
  const runs = plan!.stages.flatMap((stage) => stage.steps).filter((step) => step.kind === 'run');
  const needs = (network: NetworkMode) => runs.map((step) => requiredEntitlements(step, network).join('+'));
  assert.deepEqual(needs('default'), ['', 'network.host', '']);
  assert.deepEqual(needs('host'), ['network.host', 'network.host', '']);
  assert.deepEqual(needs('none'), ['', 'network.host', '']);
  const err = refusal(() => checkEntitlements([plan!], 'host', new Set()));
  assert.equal(err.location?.line, 4);
  assert.match(err.message, /\(1 more step also needs an entitlement\)/);
});
