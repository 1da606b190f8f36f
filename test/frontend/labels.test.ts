import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StageLabels } from '../../src/frontend/labels.js';

test('progress labels count the steps that do work, padded to the total; config steps carry the stage name only', () => {
  const labels = new StageLabels('build', 12, 1);
  assert.equal(labels.from('alpine'), '[build  1/12] FROM alpine');
  assert.equal(labels.next('RUN make', false), '[build  2/12] RUN make');
  assert.equal(labels.next('COPY a b', true), '[build  3/12] ONBUILD COPY a b');
  assert.equal(labels.plain('ENV A=1', false), '[build] ENV A=1');
  const lone = new StageLabels('', 1, 0);
  assert.deepEqual([lone.next('RUN x', false), lone.plain('ENV A=1', true), lone.from('scratch')], ['[1/1] RUN x', 'ONBUILD ENV A=1', '[1/1] FROM scratch']);
  const none = new StageLabels('s', 0, 0);
  assert.deepEqual([none.next('RUN x', false), none.from('scratch')], ['RUN x', 'FROM scratch']);
});
