import type { CredentialSources } from '../auth/credentials.js';
import type { KeyStore } from '../keys/store.js';
import type { CidrSet } from '../policy/cidr.js';
import type { Policy } from '../policy/model.js';
import type { RateLimit } from '../policy/rateLimits.js';
import type { RouteSpec } from '../policy/route.js';
import type { ConfigIssue } from '../reader/issues.js';
import type { AssertionAlgorithm } from '../assertion/signingKey.js';
import type { RateLimiting, StateSettings } from './mainFile.js';

export type { KeyRecord } from '../keys/record.js';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
  readonly text: string;
  /** HTTPS on this listener (its object form's `tls`); absent: plain HTTP. */
  readonly tls?: TlsSettings;
}

/** A listener's `tls` block: files resolved against keygate.yaml's directory. */
export interface TlsSettings {
  /** PEM certificate chain, leaf first. */
  readonly cert: string;
  /** PEM private key of the leaf. */
  readonly key: string;
  readonly minVersion: TlsVersion;
  /** PEM bundle of the CAs client certificates are checked against; absent: none asked for. */
  readonly clientCa?: string;
  /** `request`: a client certificate is asked for and checked when sent; `require`: no handshake without one. */
  readonly clientCert?: 'request' | 'require';
}

/**
 * A key bound to a client certificate (keys file `clientCert`): the key works only over a
 * TLS connection whose verified client certificate matches. Exactly one field is set.
 */
export interface ClientCertBinding {
  /** SHA-256 of the certificate, upper-case hex with colons (as openssl and Node print it). */
  readonly sha256?: string;
  /** `CN=…`, or several `K=V` joined by `,`: every one must be in the certificate's subject. */
  readonly subject?: string;
  /** One subjectAltName entry, e.g. `DNS:client.example` or `URI:spiffe://…`. */
  readonly san?: string;
}

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

export type CheckDialect = 'auto' | 'envoy' | 'nginx' | 'traefik';

export type TokenSource = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'env'; readonly name: string } | { readonly kind: 'none' };

export interface ServiceToken {
  readonly header: string; // lower case
  readonly scheme: string; // '' = raw value
  readonly source: TokenSource;
  readonly value: string; // resolved at load; never logged
}

/** How keygate speaks to a service's upstream: HTTP/1.1 (undici), or HTTP/2 (`grpc` is HTTP/2 too). */
export type UpstreamProtocol = 'http1' | 'h2' | 'grpc';

export interface ServiceConfig extends RouteSpec {
  readonly upstream: URL;
  readonly protocol: UpstreamProtocol;
  readonly serviceToken: ServiceToken;
  readonly timeouts: { readonly connect: number; readonly response: number; readonly idle: number };
  readonly allowSemicolon: boolean;
  /** `//` in a path is forwarded (and deny rules also match it merged) instead of refused. */
  readonly allowEmptySegments: boolean;
  readonly caseInsensitive: boolean;
  /** Close this service's live streamed responses whose key loses access (upgraded connections always are). */
  readonly terminateStreamsOnRevoke: boolean;
  readonly requests: RequestRules;
  /** A signed identity assertion (JWT) for the upstream; absent = none. */
  readonly assertion?: AssertionSettings;
}

/** A service's `assertion`: how its signed identity token is made. */
export interface AssertionSettings {
  /** Lower case; the client's copy of it is always removed. */
  readonly header: string;
  readonly issuer: string;
  readonly audience: string;
  /** Token lifetime, ms (whole seconds). */
  readonly ttl: number;
  readonly algorithm: AssertionAlgorithm;
  readonly keyFile: string;
  /** The private key file's text; never logged. */
  readonly keyPem: string;
}

/**
 * How a service's upstream may read a request differently from what keygate checked
 * (upgrades, method and URL overrides), and what keygate does about it.
 */
export interface RequestRules {
  /** Upgrade protocols (lower case, no version) the service may switch to; never `h2c`. */
  readonly upgrades: readonly string[];
  /** Method-override headers and `_method` in the query: refused, authorized for both methods, or removed. */
  readonly methodOverride: MethodOverrideMode;
  /** Look for `_method` at the start of form bodies of POST requests. */
  readonly methodOverrideInBody: boolean;
  /** URL-override headers (lower case) forwarded from the client anyway; all others are removed. */
  readonly keepUrlOverrides: readonly string[];
  /** Set an RFC 7239 `Forwarded` header (for, host, proto); a client's is always removed. */
  readonly forwardedHeader: boolean;
  /** Forward TRACE and TRACK (without the service token or identity headers); else 405. */
  readonly allowTrace: boolean;
  /** Where the key is read from; every header named here is removed before the request goes up. */
  readonly credentials: CredentialSources;
}

export type MethodOverrideMode = 'reject' | 'authorize' | 'strip';

export interface Snapshot extends Policy {
  readonly generation: number;
  readonly mainFile: string;
  readonly policyFile: string;
  readonly keysFiles: readonly string[];
  /** Methods beyond RFC 9110's that rules may name (keygate.yaml `extraMethods`). */
  readonly extraMethods: readonly string[];
  /** Every file whose change must trigger a reload (main, policy, keys, token files). */
  readonly watchedFiles: readonly string[];
  readonly listen: {
    readonly proxy: ListenAddress;
    readonly admin: ListenAddress;
    readonly check?: ListenAddress;
    /** Which front proxy asks the decision API; `auto` reads it per request from the headers. */
    readonly checkDialect: CheckDialect;
    /** Envoy's gRPC ext_authz (envoy.service.auth.v3.Authorization/Check) and grpc.health.v1. */
    readonly grpc?: ListenAddress;
    readonly trustedProxies: CidrSet;
  };
  readonly services: readonly ServiceConfig[];
  /** Every key, compact, in file order. */
  readonly keys: KeyStore;
  readonly limits: { readonly body?: number; readonly headers: number };
  readonly shutdown: { readonly delay: number; readonly timeout: number };
  readonly reload: { readonly interval: number; readonly debounce: number };
  readonly log: { readonly level: string; readonly access: boolean };
  readonly metrics: { readonly perKeyLabels: boolean };
  readonly rateLimits: RateLimitSettings;
  /** Keys bound to a client certificate, by key id (only those keys). */
  readonly clientCertBindings: ReadonlyMap<string, ClientCertBinding>;
  /** Where key usage is kept (without the Redis backend). */
  readonly state: StateSettings;
  readonly warnings: readonly ConfigIssue[];
  /** keygate.yaml `shadow`, loaded and valid; absent when none is configured or the candidate is invalid. */
  readonly shadow?: ShadowCandidate;
  /** Why a configured candidate is not in use (it never blocks the live config); empty or absent when it is. */
  readonly shadowErrors?: readonly ConfigIssue[];
}

/**
 * The candidate policy and keys of keygate.yaml `shadow`: every request is decided by
 * them too, and a different answer is logged and counted, never sent. Whatever the
 * candidate does not name (routing, services, the other of policy and keys) is the live one.
 */
export interface ShadowCandidate {
  /** The candidate's own files, as named in keygate.yaml (for logs). */
  readonly files: readonly string[];
  /** Absent: the live policy. */
  readonly policy?: Pick<Policy, 'users' | 'guardrails'>;
  /** Absent: the live keys. */
  readonly keys?: KeyStore;
}

/** keygate.yaml `rateLimiting` plus the policy's named limits, resolved for the request path. */
export interface RateLimitSettings extends RateLimiting {
  readonly named: ReadonlyMap<string, RateLimit>;
  /** Each key's own limits (only keys that name one), already capped to its user's. */
  readonly byKey: ReadonlyMap<string, readonly RateLimit[]>;
}
