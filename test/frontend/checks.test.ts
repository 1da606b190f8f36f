import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkDockerfile, CheckRules, planBuild, type CheckWarning, type PlanOptions } from '../../src/frontend/index.js';
import { amd64, arm64, fakeResolver, planOptions } from './fixtures.js';

interface RuleCase {
  rule: string;
  triggers: string;
  clean: string;
  detail: string;
  options?: Partial<PlanOptions>;
}

/** For every rule: a Dockerfile that triggers it (with the expected detail) and one that does not. */
const RULE_CASES: RuleCase[] = [
  {
    rule: 'StageNameCasing',
    triggers: 'FROM scratch AS Build\n',
    clean: 'FROM scratch AS build\n',
    detail: "Stage name 'Build' should be lowercase",
  },
  { rule: 'FromAsCasing', triggers: 'FROM scratch as base\n', clean: 'FROM scratch AS base\n', detail: "'as' and 'FROM' keywords' casing do not match" },
  {
    rule: 'NoEmptyContinuation',
    triggers: 'FROM scratch\nCOPY a \\\n\nb\n',
    clean: 'FROM scratch\nCOPY a \\\nb\n',
    detail: 'Empty continuation line',
  },
  {
    rule: 'ConsistentInstructionCasing',
    triggers: 'FROM scratch\ncopy a /a\nCOPY b /b\n',
    clean: 'FROM scratch\nCOPY a /a\nCOPY b /b\n',
    detail: "Command 'copy' should match the case of the command majority (uppercase)",
  },
  {
    rule: 'DuplicateStageName',
    triggers: 'FROM scratch AS a\nFROM scratch AS a\n',
    clean: 'FROM scratch AS a\nFROM scratch AS b\n',
    detail: 'Duplicate stage name "a", stage names should be unique',
  },
  {
    rule: 'ReservedStageName',
    triggers: 'FROM scratch AS context\n',
    clean: 'FROM scratch AS ctx\n',
    detail: 'Stage name should not use the same name as reserved stage "context"',
  },
  {
    rule: 'JSONArgsRecommended',
    triggers: 'FROM scratch\nCMD serve\n',
    clean: 'FROM scratch\nCMD ["serve"]\n',
    detail: 'JSON arguments recommended for CMD to prevent unintended behavior related to OS signals',
  },
  {
    rule: 'MaintainerDeprecated',
    triggers: 'FROM scratch\nMAINTAINER me\n',
    clean: 'FROM scratch\nLABEL org.opencontainers.image.authors=me\n',
    detail: 'Maintainer instruction is deprecated in favor of using label',
  },
  {
    rule: 'UndefinedArgInFrom',
    triggers: 'FROM alpine${SUFFIX}\n',
    clean: 'ARG SUFFIX\nFROM alpine${SUFFIX}\n',
    detail: "FROM argument 'SUFFIX' is not declared",
  },
  {
    rule: 'WorkdirRelativePath',
    triggers: 'FROM scratch\nWORKDIR app\n',
    clean: 'FROM scratch\nWORKDIR /app\nWORKDIR sub\n',
    detail: 'Relative workdir "app" can have unexpected results if the base image changes',
  },
  {
    rule: 'UndefinedVar',
    triggers: 'FROM scratch\nARG VERSION=1\nCOPY app-$VERSON /app\n',
    clean: 'FROM scratch\nARG VERSION=1\nCOPY app-$VERSION /app\n',
    detail: "Usage of undefined variable '$VERSON' (did you mean $VERSION?)",
  },
  {
    rule: 'MultipleInstructionsDisallowed',
    triggers: 'FROM scratch\nCMD ["a"]\nCMD ["b"]\n',
    clean: 'FROM scratch AS base\nCMD ["a"]\nFROM base\nCMD ["b"]\n',
    detail: 'Multiple CMD instructions should not be used in the same stage because only the last one will be used',
  },
  {
    rule: 'LegacyKeyValueFormat',
    triggers: 'FROM scratch\nENV NAME value\n',
    clean: 'FROM scratch\nENV NAME=value\n',
    detail: '"ENV key=value" should be used instead of legacy "ENV key value" format',
  },
  {
    rule: 'InvalidBaseImagePlatform',
    triggers: 'FROM alpine\n',
    clean: 'FROM busybox\n',
    detail: 'Base image alpine was pulled with platform "linux/arm64", expected "linux/amd64" for current build',
    options: { resolveImage: fakeResolver({ alpine: { platform: arm64 }, busybox: { platform: amd64 } }) },
  },
  {
    rule: 'RedundantTargetPlatform',
    triggers: 'FROM --platform=$TARGETPLATFORM scratch\n',
    clean: 'FROM --platform=$BUILDPLATFORM scratch\n',
    detail: 'Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior',
  },
  {
    rule: 'SecretsUsedInArgOrEnv',
    triggers: 'FROM scratch\nARG GITHUB_TOKEN\n',
    clean: 'FROM scratch\nARG PUBLIC_KEY\n',
    detail: 'Do not use ARG or ENV instructions for sensitive data (ARG "GITHUB_TOKEN")',
  },
  {
    rule: 'InvalidDefaultArgInFrom',
    triggers: 'ARG TAG\nFROM alpine:$TAG\n',
    clean: 'ARG TAG=latest\nFROM alpine:$TAG\n',
    detail: 'Default value for ARG alpine:$TAG results in empty or invalid base image name',
    options: { buildArgs: { TAG: '3.20' } },
  },
  {
    rule: 'FromPlatformFlagConstDisallowed',
    triggers: 'FROM --platform=linux/arm64 scratch AS base\n',
    clean: 'FROM --platform=linux/arm64 scratch AS base_arm64\n',
    detail: 'FROM --platform flag should not use constant value "linux/arm64"',
  },
  {
    rule: 'CopyIgnoredFile',
    triggers: 'FROM scratch\nCOPY secret.txt /\n',
    clean: 'FROM scratch\nCOPY public.txt /\n',
    detail: 'Attempting to Copy file "secret.txt" that is excluded by .dockerignore',
    options: { isIgnored: (path) => path === 'secret.txt' },
  },
  {
    rule: 'ExposeProtoCasing',
    triggers: 'FROM scratch\nEXPOSE 80/TCP\n',
    clean: 'FROM scratch\nEXPOSE 80/tcp\n',
    detail: "Defined protocol '80/TCP' in EXPOSE instruction should be lowercase",
  },
  {
    rule: 'ExposeInvalidFormat',
    triggers: 'FROM scratch\nEXPOSE 8080:80\n',
    clean: 'FROM scratch\nEXPOSE 80\n',
    detail: "EXPOSE instruction should not define an IP address or host-port mapping, found '8080:80'",
  },
  {
    rule: 'InvalidDefinitionDescription',
    triggers: '# check=experimental=InvalidDefinitionDescription\n# the version\nARG VERSION=1\nFROM scratch\n',
    clean: '# check=experimental=InvalidDefinitionDescription\n# VERSION of the app\nARG VERSION=1\nFROM scratch\n',
    detail: 'Comment for ARG should follow the format: `# VERSION <description>`',
  },
];

function rulesOf(warnings: CheckWarning[]): string[] {
  return warnings.map((w) => w.rule);
}

for (const c of RULE_CASES) {
  test(`check ${c.rule}: reported when it applies, silent when it does not`, async () => {
    const options = planOptions(c.options);
    const { warnings } = await checkDockerfile(c.triggers, options);
    const found = warnings.filter((w) => w.rule === c.rule);
    assert.equal(found.length, 1, `${c.rule} in ${JSON.stringify(rulesOf(warnings))}`);
    const rule = Object.values(CheckRules).find((r) => r.name === c.rule)!;
    assert.deepEqual(found[0], {
      rule: c.rule,
      description: rule.description,
      url: rule.url,
      detail: c.detail,
      level: 'warning',
      location: found[0]!.location,
    });
    assert.equal(found[0]!.location?.file, 'Dockerfile');
    assert.deepEqual(rulesOf((await planBuild(c.triggers, options)).warnings).filter((r) => r === c.rule), [c.rule], 'the build reports it too');
    const clean = await checkDockerfile(c.clean, options);
    assert.deepEqual(rulesOf(clean.warnings), [], `clean Dockerfile for ${c.rule}`);
    assert.equal(clean.failed, false);
  });
}

test('every BuildKit rule gantry implements has a case above', () => {
  assert.deepEqual(
    Object.values(CheckRules).map((r) => r.name).sort(),
    RULE_CASES.map((c) => c.rule).sort(),
  );
});

test('# check=skip=... skips rules; skip=all skips everything', async () => {
  const dockerfile = 'FROM scratch as base\ncopy a /a\n';
  assert.deepEqual(rulesOf((await checkDockerfile(dockerfile, planOptions())).warnings).sort(), ['ConsistentInstructionCasing', 'FromAsCasing']);
  assert.deepEqual(rulesOf((await checkDockerfile(`# check=skip=FromAsCasing\n${dockerfile}`, planOptions())).warnings), ['ConsistentInstructionCasing']);
  assert.deepEqual(rulesOf((await checkDockerfile(`# check=skip=all\n${dockerfile}`, planOptions())).warnings), []);
});

test('a # check= comment above an instruction applies to that instruction only', async () => {
  const dockerfile = 'FROM scratch\n# check=skip=LegacyKeyValueFormat\nENV A 1\nENV B 2\n';
  const { warnings } = await checkDockerfile(dockerfile, planOptions());
  assert.deepEqual(warnings.map((w) => [w.rule, w.location?.line]), [['LegacyKeyValueFormat', 4]]);
});

test('error=true makes findings errors: the build fails and the check result is failed', async () => {
  const dockerfile = '# check=error=true\nFROM scratch as base\n';
  const check = await checkDockerfile(dockerfile, planOptions());
  assert.equal(check.failed, true);
  assert.equal(check.error?.message, 'lint violation found for rules: FromAsCasing');
  assert.deepEqual(check.warnings.map((w) => [w.rule, w.level]), [['FromAsCasing', 'error']]);
  await assert.rejects(planBuild(dockerfile, planOptions()), /lint violation found for rules: FromAsCasing/);
  const clean = await checkDockerfile('# check=error=true\nFROM scratch AS base\n', planOptions());
  assert.deepEqual(clean, { warnings: [], failed: false });
});

test('PlanOptions.checkConfig replaces the # check= directive, like BUILDKIT_DOCKERFILE_CHECK', async () => {
  const dockerfile = '# check=skip=all\nFROM scratch as base\n';
  const viaOption = await checkDockerfile(dockerfile, planOptions({ checkConfig: 'error=true' }));
  assert.equal(viaOption.failed, true);
  const viaBuildArg = await checkDockerfile(dockerfile, planOptions({ buildArgs: { BUILDKIT_DOCKERFILE_CHECK: 'skip=FromAsCasing' } }));
  assert.deepEqual(viaBuildArg, { warnings: [], failed: false });
  await assert.rejects(planBuild(dockerfile, planOptions({ checkConfig: 'nonsense' })), /invalid check option "nonsense"/);
});

test('lint mode covers every stage; a build only the stages its target needs', async () => {
  const dockerfile = 'FROM scratch AS a\nENV X 1\nFROM scratch AS b\nENV Y=1\n';
  assert.deepEqual(rulesOf((await checkDockerfile(dockerfile, planOptions())).warnings), ['LegacyKeyValueFormat']);
  assert.deepEqual(rulesOf((await planBuild(dockerfile, planOptions())).warnings), []);
  assert.deepEqual(rulesOf((await checkDockerfile(dockerfile, planOptions({ target: 'b' }))).warnings), []);
});

test('lint mode resolves base images of every stage', async () => {
  const resolver = fakeResolver();
  await checkDockerfile('FROM golang AS build\nFROM alpine\n', planOptions({ resolveImage: resolver }));
  assert.deepEqual(resolver.calls.sort(), ['docker.io/library/alpine:latest linux/amd64', 'docker.io/library/golang:latest linux/amd64']);
});

test('checkDockerfile returns Dockerfile errors instead of throwing, with the warnings found before', async () => {
  const result = await checkDockerfile('FROM scratch AS Bad\nBADCMD\n', planOptions());
  assert.equal(result.failed, true);
  assert.equal(result.error?.message, 'unknown instruction: BADCMD');
  assert.equal(result.error?.location?.line, 2);
  assert.deepEqual(rulesOf(result.warnings), ['StageNameCasing']);
});
