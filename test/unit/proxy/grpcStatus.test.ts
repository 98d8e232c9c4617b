import { describe, expect, it } from 'vitest';
import { GRPC, grpcRefusalHeaders, grpcStatusOf } from '../../../src/proxy/grpcStatus.js';
import { problemFor } from '../../../src/proxy/problem.js';

describe('gRPC refusals', () => {
  it.each([
    [401, GRPC.UNAUTHENTICATED],
    [403, GRPC.PERMISSION_DENIED],
    [429, GRPC.RESOURCE_EXHAUSTED],
    [413, GRPC.RESOURCE_EXHAUSTED],
    [404, GRPC.UNIMPLEMENTED],
    [502, GRPC.UNAVAILABLE],
    [504, GRPC.UNAVAILABLE],
    [400, GRPC.INTERNAL],
    [418, GRPC.UNKNOWN],
  ])('HTTP %i is grpc-status %i', (http, grpc) => expect(grpcStatusOf(http)).toBe(grpc));

  it('a rate-limit refusal is RESOURCE_EXHAUSTED with the title as a percent-encoded grpc-message', () => {
    const headers = grpcRefusalHeaders(problemFor('rate_limited', 'req-1'));
    expect(headers['grpc-status']).toBe('8');
    expect(headers['content-type']).toBe('application/grpc');
    expect(headers['x-request-id']).toBe('req-1');
    expect(headers['grpc-message']).toMatch(/^[\x20-\x7e]+$/);
  });

  it('percent-encodes what is not printable ASCII, and % itself', () => {
    const headers = grpcRefusalHeaders(problemFor('bad_target', 'r', 'path has 100% é\n'));
    expect(headers['grpc-message']).toContain('100%25 %C3%A9%0A');
  });
});
