/** The operations commands as a user runs them: drift, budget, feedback (on a real NSL-KDD model). */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { cli } from '../helpers/cli.ts';
import { dataFile } from '../helpers/data.ts';
import { trainTestModel } from '../web/helpers.ts';

describe('drift, budget and feedback commands', () => {
  let model: string;
  before(async () => {
    model = await trainTestModel();
  });

  it('drift builds its reference from the training data named in the card, then flags KDDTest+', async () => {
    const test = await cli(['drift', model, dataFile('nsl-kdd/KDDTest+.txt'), '--json']);
    assert.equal(test.code, 0, test.stderr);
    const r2 = JSON.parse(test.stdout);
    assert.ok(existsSync(join(model, 'drift-reference.json')), 'reference saved beside the model');
    assert.equal(r2.retrain, true);
    assert.ok(r2.reasons.length > 0);
  });

  it('budget sets a threshold on labelled data and reports what it costs in detection', async () => {
    const r = await cli([
      'budget',
      model,
      dataFile('nsl-kdd/KDDTest+.txt'),
      '--alert-budget',
      '50/h',
      '--flows-per-hour',
      '10000',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const b = JSON.parse(r.stdout);
    assert.equal(b.budgetPerHour, 50);
    assert.equal(b.expectedFpr, 0.005);
    assert.ok(b.benignRows > 9000 && b.detection.attacks > 12000);
    assert.ok(b.detection.detectionAtBudget > 0 && b.detection.detectionAtBudget <= 1);
    const bad = await cli(['budget', model, dataFile('nsl-kdd/KDDTest+.txt'), '--alert-budget', 'lots']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /expected N\/h/);
  });

  it('feedback add / list / remove, with one-line errors', async () => {
    const add = await cli([
      'feedback',
      'add',
      model,
      '--scope',
      'cluster',
      '--cluster',
      '3',
      '--verdict',
      'benign',
      '--who',
      'ana',
    ]);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /feedback rule 1: cluster \{"cluster":3\} is benign/);
    const wrong = await cli([
      'feedback',
      'add',
      model,
      '--scope',
      'host',
      '--verdict',
      'benign',
      '--who',
      'ana',
    ]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^OptionError: feedback: a 'host' verdict needs a host address$/m);
    const list = await cli(['feedback', 'list', model, '--json']);
    const fb = JSON.parse(list.stdout);
    assert.equal(fb.revision, 1);
    assert.equal(fb.rules[0].who, 'ana');
  });
});
