import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Progress } from '../../src/progress/events.js';
import { createProgressSink } from '../../src/progress/renderers.js';

/** A stand-in terminal or pipe that keeps what was written. */
function fakeStream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const stream = {
    text: '',
    isTTY,
    columns: 60,
    write(chunk: string) {
      stream.text += chunk;
      return true;
    },
  };
  return stream as unknown as NodeJS.WriteStream & { text: string };
}

function runSteps(progress: Progress): void {
  const cached = progress.step('[build 2/3] COPY . /app');
  cached.cached();
  cached.done();
  const run = progress.step('[build 3/3] RUN make');
  run.miss('parent step missed');
  run.log('stdout', 'compiling\nlinking');
  run.log('stdout', ' done\n');
  run.done();
  progress.warning('JSONArgsRecommended: JSON arguments recommended (line 4)');
  progress.close();
}

test('plain progress prints a line per event, with CACHED, the miss cause and RUN output', () => {
  const stream = fakeStream(false);
  runSteps(new Progress(createProgressSink('auto', stream)));
  const lines = stream.text.split('\n');
  assert.equal(lines[0], '#1 [build 2/3] COPY . /app');
  assert.equal(lines[1], '#1 CACHED');
  assert.match(lines[2], /^#1 DONE \d+\.\ds$/);
  assert.equal(lines[3], '#2 [build 3/3] RUN make');
  assert.equal(lines[4], '#2 cache miss: parent step missed');
  assert.match(lines[5], /^#2 \d+\.\d{3} compiling$/);
  assert.match(lines[6], /^#2 \d+\.\d{3} linking done$/);
  assert.match(lines[7], /^#2 DONE/);
  assert.equal(lines[8], 'WARNING: JSONArgsRecommended: JSON arguments recommended (line 4)');
});

test('json progress writes one parseable event per line', () => {
  const stream = fakeStream(false);
  runSteps(new Progress(createProgressSink('json', stream)));
  const events = stream.text.trim().split('\n').map((line) => JSON.parse(line) as { type: string; id?: number; cause?: string });
  assert.deepEqual(
    events.map((e) => e.type),
    ['step-start', 'step-cached', 'step-done', 'step-start', 'step-miss', 'step-log', 'step-log', 'step-done', 'warning'],
  );
  assert.equal(events[4].cause, 'parent step missed');
});

test('tty progress shows finished steps and leaves the terminal clean', () => {
  const stream = fakeStream(true);
  runSteps(new Progress(createProgressSink('auto', stream)));
  assert.match(stream.text, /=> \[build 2\/3\] COPY \. \/app.* CACHED/);
  assert.match(stream.text, /=> \[build 3\/3\] RUN make.* \d+\.\ds/);
  assert.match(stream.text, /WARNING:.*JSONArgsRecommended/);
});

test('quiet progress prints only warnings', () => {
  const stream = fakeStream(false);
  runSteps(new Progress(createProgressSink('quiet', stream)));
  assert.equal(stream.text, 'WARNING: JSONArgsRecommended: JSON arguments recommended (line 4)\n');
});

test('a multi-platform build labels steps with their platform', () => {
  const stream = fakeStream(false);
  const progress = new Progress(createProgressSink('plain', stream));
  progress.forPlatform('linux/arm64').step('[build 2/3] RUN make').done();
  progress.forPlatform('linux/amd64').step('RUN make').done();
  assert.match(stream.text, /^#1 \[linux\/arm64 build 2\/3\] RUN make$/m);
  assert.match(stream.text, /^#2 \[linux\/amd64\] RUN make$/m);
});
