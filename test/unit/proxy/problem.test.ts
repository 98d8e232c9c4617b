import { describe, expect, it } from 'vitest';
import { REASONS, type Reason } from '../../../src/errors.js';
import { problemAnswer, problemFor, problemHeaders } from '../../../src/proxy/problem.js';

describe('problemAnswer', () => {
  const reasons = Object.keys(REASONS) as Reason[];
  const details = [undefined, '', 'request body larger than 10 bytes', 'a "quoted" détail\n'];
  const ids = ['req-1', '4bf92f35-77b3-4da6-a3ce-929d0e0e4736'];

  it.each(reasons)('%s: the document, status and headers are those of problemFor', (reason) => {
    for (const detail of details)
      for (const id of ids) {
        const answer = problemAnswer(reason, id, detail);
        const problem = problemFor(reason, id, detail);
        expect(answer.body).toBe(JSON.stringify(problem));
        expect(answer.status).toBe(problem.status);
        expect(answer.headers).toEqual(problemHeaders(problem, Buffer.byteLength(answer.body)));
      }
  });
});
