import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificate {
  /** PEM texts. */
  readonly cert: string;
  readonly key: string;
  /** Colon-separated SHA-256 of the certificate, as a TLS peer reports it. */
  readonly sha256: string;
  /** notAfter, seconds since the epoch. */
  readonly expires: number;
}

/**
 * A P-256 certificate for 127.0.0.1 / localhost made by `openssl` now (self-signed, or
 * signed by `issuer`, which makes it a client or server certificate of that CA).
 */
export function makeCertificate(options: { cn?: string; days?: number; issuer?: TestCertificate; ca?: boolean } = {}): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-cert-'));
  try {
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    const subject = `/CN=${options.cn ?? 'keygate-test'}`;
    const days = String(options.days ?? 30);
    const ext = options.ca ? ['-addext', 'basicConstraints=critical,CA:TRUE'] : ['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'];
    const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile];
    if (!options.issuer) {
      execFileSync('openssl', ['req', '-x509', ...newKey, '-out', certFile, '-days', days, '-subj', subject, ...ext], { stdio: 'pipe' });
    } else {
      const csr = join(dir, 'req.csr');
      const caCert = join(dir, 'ca.pem');
      const caKey = join(dir, 'ca.key');
      execFileSync('sh', ['-c', `cat > ${caCert}`], { input: options.issuer.cert });
      execFileSync('sh', ['-c', `umask 077; cat > ${caKey}`], { input: options.issuer.key });
      execFileSync('openssl', ['req', '-new', ...newKey, '-out', csr, '-subj', subject, ...ext], { stdio: 'pipe' });
      execFileSync(
        'openssl',
        [
          'x509',
          '-req',
          '-in',
          csr,
          '-CA',
          caCert,
          '-CAkey',
          caKey,
          '-CAcreateserial',
          '-out',
          certFile,
          '-days',
          days,
          '-copy_extensions',
          'copy',
        ],
        { stdio: 'pipe' },
      );
    }
    const cert = readFileSync(certFile, 'utf8');
    const x509 = new X509Certificate(cert);
    return { cert, key: readFileSync(keyFile, 'utf8'), sha256: x509.fingerprint256, expires: Math.floor(Date.parse(x509.validTo) / 1000) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
