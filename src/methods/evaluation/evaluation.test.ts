import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../tensor/creation.js';
import { parseConfig } from '../../io/config/config.js';
import { randomModel } from '../../models/random.js';
import { textCorpus } from '../data/corpus.js';
import { SyntheticWorld } from '../train/synthetic.js';
import { buildReferences, consistency, fluency, ngramEntropy, scoreTargets, summarize, textEntropy, TfIdf, wordTokens, type CaseScores } from './index.js';

test('scoreTargets: batched, padded NLLs equal each prompt scored alone', async () => {
  const world = new SyntheticWorld(24, 0);
  const tok = world.tokenizer;
  for (const arch of ['mamba', 'gpt_neox']) {
    const model = randomModel(parseConfig({ model_type: arch, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, vocab_size: Math.ceil(tok.vocabSize / 8) * 8, state_size: 4 }), 4);
    const pairs = [{ prefix: 'The home of Cosmo Calloway is', target: 'Paris' }, { prefix: 'Hilde Hartwell is a', target: 'doctor' }, { prefix: 'Fenna Ashdown lives in', target: 'Rome Paris' }];
    const got = await scoreTargets(model, tok, pairs, 2);
    for (const [i, p] of pairs.entries()) {
      const pre = tok.encode(p.prefix).ids, tgt = tok.encode(` ${p.target}`).ids, ids = [...pre, ...tgt];
      const logits = model.forward(tensor(Int32Array.from(ids), [1, ids.length]));
      const l = (await logits.data()) as Float32Array, V = l.length / ids.length;
      let nll = 0, all = true;
      tgt.forEach((t, j) => {
        const row = l.subarray((pre.length - 1 + j) * V, (pre.length + j) * V);
        const mx = Math.max(...row);
        nll += Math.log(row.reduce((a, x) => a + Math.exp(x - mx), 0)) + mx - row[t]!;
        if (row.indexOf(mx) !== t) all = false;
      });
      logits.dispose();
      assert.ok(Math.abs(got[i]!.nll - nll / tgt.length) < 1e-4, `${arch} ${i}: ${got[i]!.nll} vs ${nll / tgt.length}`);
      assert.equal(got[i]!.argmaxAll, all);
    }
    model.dispose();
  }
});

test('summarize: ROME\'s scores, magnitudes and harmonic mean', () => {
  const L = Math.log;
  const s: CaseScores[] = [
    { caseId: 0, rewrite: { nllTrue: -L(0.1), nllNew: -L(0.7), accNew: true }, paraphrase: [{ nllTrue: -L(0.2), nllNew: -L(0.4), accNew: false }], neighbourhood: [{ nllTrue: -L(0.5), nllNew: -L(0.1), accTrue: true }, { nllTrue: -L(0.1), nllNew: -L(0.3), accTrue: false }] },
    { caseId: 1, rewrite: { nllTrue: -L(0.6), nllNew: -L(0.3), accNew: false }, paraphrase: [{ nllTrue: -L(0.1), nllNew: -L(0.5), accNew: true }], neighbourhood: [{ nllTrue: -L(0.4), nllNew: -L(0.2), accTrue: true }] },
  ];
  const r = summarize(s);
  assert.equal(r.ES, 50);
  assert.equal(r.PS, 100);
  assert.equal(r.NS, 75); // case 0: 1/2, case 1: 1
  assert.ok(Math.abs(r.EM - 100 * ((0.6 - 0.3) / 2)) < 1e-9);
  assert.ok(Math.abs(r.PM - 100 * ((0.2 + 0.4) / 2)) < 1e-9);
  assert.ok(Math.abs(r.NM - 100 * (((0.4 - 0.2) / 2 + 0.2) / 2)) < 1e-9);
  assert.ok(Math.abs(r.S - 3 / (1 / 50 + 1 / 100 + 1 / 75)) < 1e-9);
  assert.equal(r.rewriteAcc, 50);
});

test('fluency: NLTK-style word tokens and ROME\'s weighted bigram/trigram entropy', () => {
  assert.deepEqual(wordTokens("Don't stop, it's 3.5 km away..."), ['Do', "n't", 'stop', ',', 'it', "'s", '3.5', 'km', 'away', '...']);
  assert.equal(ngramEntropy(['a', 'b', 'a', 'b'], 2), -((2 / 3) * Math.log2(2 / 3) + (1 / 3) * Math.log2(1 / 3)));
  assert.ok(Math.abs(textEntropy('w x y z') - ((2 / 3) * Math.log2(3) + (4 / 3) * 1) / 2) < 1e-12);
  assert.ok(textEntropy('the cat the cat the cat the cat') < textEntropy('the cat sat on a mat by the door'));
  assert.equal(fluency(['w x y z', 'w x y z']), textEntropy('w x y z'));
});

test('TF-IDF as scikit-learn\'s defaults, consistency, and reference sentences from a corpus', async () => {
  const tf = TfIdf.fit(['aa bb', 'bb cc', 'cc dd x']);
  const idfA = Math.log(4 / 2) + 1, idfB = Math.log(4 / 3) + 1;
  const v = tf.vector('AA bb bb zz');
  const n = Math.hypot(idfA, 2 * idfB);
  assert.ok(Math.abs(v.get('aa')! - idfA / n) < 1e-12 && Math.abs(v.get('bb')! - (2 * idfB) / n) < 1e-12 && !v.has('zz') && !v.has('x'));
  assert.ok(Math.abs(tf.cosine('aa', 'aa bb') - idfA / Math.hypot(idfA, idfB)) < 1e-12);
  const refs = await buildReferences(textCorpus('t', ['Paris is large. Parisian food. I like Paris!', 'Rome. Paris again.']), ['Paris', 'Rome'], { perObject: 2 });
  assert.deepEqual(refs.sentences.get('Paris'), ['Paris is large.', 'I like Paris!']);
  assert.deepEqual(refs.sentences.get('Rome'), ['Rome.']);
  assert.ok(consistency(refs.tfidf, ['Paris is large'], refs.sentences.get('Paris')!) > consistency(refs.tfidf, ['Paris is large'], refs.sentences.get('Rome')!));
});
