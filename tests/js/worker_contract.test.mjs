// The worker contract (ModelBase.local): in worker mode only the synchronous methods a
// class declares local run on the page (on the vocab-only copy); every other method must
// be async. A new synchronous method that is not declared would break in worker mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as plm from '../../js/node.js';
import { ModelBase } from '../../js/core/model.js';
import { members, localMethods, undeclaredSyncMethods } from '../../js/core/wire.js';
import { remoteClassOf } from '../../js/core/remote.js';

const CLASSES = Object.values(plm).filter((v) => typeof v === 'function' && v.prototype instanceof ModelBase);

test('the package exports the model classes, each with its static exportName', () => {
  assert.deepEqual(CLASSES.map((c) => c.exportName).sort(), ['BERT', 'GPT', 'T5', 'Tokenizer']);
  for (const C of CLASSES) assert.equal(plm[C.exportName], C);
});

for (const C of [ModelBase, ...CLASSES]) {
  test(`${C.exportName ?? C.name}: every synchronous method is declared local (or is async)`, () => {
    assert.deepEqual(undeclaredSyncMethods(C), []);
    // and every declared name is a synchronous method of the class
    const m = members(C);
    for (const name of localMethods(C)) assert.equal(m.get(name)?.kind, 'sync', `${name} in ${C.name}.local`);
  });
}

test('an undeclared synchronous method is reported, and throws in worker mode instead of running on the vocab-only copy', () => {
  class Sneaky extends plm.GPT {
    static exportName = 'GPT';
    peek() {
      return 1;
    }
    async fine() {
      return 2;
    }
  }
  assert.deepEqual(undeclaredSyncMethods(Sneaky), ['peek']);
  const R = remoteClassOf(Sneaky);
  assert.throws(() => R.prototype.peek.call({}), /GPT\.peek\(\) is synchronous and not in GPT\.local/);
  class Declared extends Sneaky {
    static local = ['peek'];
  }
  assert.deepEqual(undeclaredSyncMethods(Declared), []);
});

test('worker mode refuses a class without its own exportName', async () => {
  class Mine extends plm.GPT {}
  assert.throws(() => remoteClassOf(Mine), /worker mode needs a model class exported by plm-wasm/);
});
