import { expect } from 'chai';
import { OrderedAnswers } from '../../../src/wire/ordered-answers';

// Issue 15 (ADR 0040): a push held by a cut is answered later; the answers after it on the same
// stream wait for it, so a stream's answers stay in request order.
describe('OrderedAnswers: a stream\'s answers in request order when some come later', () => {
  it('writes at once while nothing is pending, and after a pending answer once it settles', async () => {
    const written: string[] = [];
    const answers = new OrderedAnswers<string>((a) => written.push(a));
    answers.add('a');
    expect(written, 'nothing pending: written at once').to.deep.equal(['a']);
    let release!: (v: string) => void;
    answers.add(new Promise<string>((r) => { release = r; }));
    answers.add('c');
    let ended = false;
    answers.afterAll(() => { ended = true; });
    await new Promise(setImmediate);
    expect(written, 'c waits for the held answer').to.deep.equal(['a']);
    expect(ended).to.equal(false);
    release('b');
    await new Promise(setImmediate);
    expect(written).to.deep.equal(['a', 'b', 'c']);
    expect(ended, 'the end follows the last answer').to.equal(true);
    answers.add('d');
    expect(written, 'nothing pending again: written at once').to.deep.equal(['a', 'b', 'c', 'd']);
  });
});
