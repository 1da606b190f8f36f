import { test } from 'node:test';
import assert from 'node:assert/strict';
import { areaOf, summarizeProfile, type CpuProfile } from '../../bench/cpu-profile.js';

const frame = (functionName: string, url: string, lineNumber = 0) => ({ functionName, url, lineNumber });

test('areas: gantry modules, dependencies (scoped too), Node internals and V8 entries', () => {
  assert.equal(areaOf(frame('selectSources', 'file:///repo/dist/src/context/select.js')), 'src/context');
  assert.equal(areaOf(frame('parse', 'file:///repo/node_modules/commander/lib/command.js')), 'commander');
  assert.equal(areaOf(frame('x', 'file:///repo/node_modules/@types/node/index.js')), '@types/node');
  assert.equal(areaOf(frame('readFile', 'node:internal/fs/promises')), 'node');
  assert.equal(areaOf(frame('(garbage collector)', '')), '(garbage collector)');
  assert.equal(areaOf(frame('compile', '')), 'native');
});

test('self time goes to the sampled function, inside time to every gantry module on its stack once', () => {
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 5] },
      { id: 2, callFrame: frame('build', 'file:///r/dist/src/solver/build.js', 9), children: [3] },
      { id: 3, callFrame: frame('select', 'file:///r/dist/src/context/select.js'), children: [4] },
      { id: 4, callFrame: frame('hash', 'file:///r/dist/src/context/hashing.js'), children: [6] },
      { id: 6, callFrame: frame('update', 'node:internal/crypto/hash') },
      { id: 5, callFrame: frame('(garbage collector)', '') },
    ],
    startTime: 0,
    endTime: 10_000,
    samples: [6, 6, 4, 2, 5],
    timeDeltas: [1000, 1000, 2000, 500, 4000],
  };
  const summary = summarizeProfile(profile);
  assert.equal(summary.wallMs, 10);
  assert.deepEqual(Object.fromEntries(summary.selfMs), { node: 2, 'src/context': 2, 'src/solver': 0.5, '(garbage collector)': 4 });
  assert.deepEqual(Object.fromEntries(summary.insideMs), { 'src/context': 4, 'src/solver': 4.5 });
  assert.deepEqual(summary.functions[0], ['(garbage collector) (native:1)', 4]);
  assert.deepEqual(summary.functions[3], ['build (dist/src/solver/build.js:10)', 0.5]);
});
