// Verifies a Keyward step-up token with `jose`, a JOSE library independent of the gateway's, the
// way a tool behind Keyward would: keys from the JWKS URL, ES256 only, issuer and type checked.
// Usage: node verify-step-up-token.mjs JWKS_URL TOKEN ISSUER
// Prints {"protectedHeader": ..., "payload": ...} and exits 0, or prints the reason and exits 2.
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [jwksUrl, token, issuer] = process.argv.slice(2);
if (!jwksUrl || !token || !issuer) {
  console.error('usage: node verify-step-up-token.mjs JWKS_URL TOKEN ISSUER');
  process.exit(64);
}
try {
  const jwks = createRemoteJWKSet(new URL(jwksUrl));
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer,
    algorithms: ['ES256'],
    typ: 'JWT',
    requiredClaims: ['sub', 'iat', 'exp', 'jti'],
  });
  console.log(JSON.stringify({ protectedHeader, payload }));
} catch (err) {
  console.error(`${err.code ?? err.name}: ${err.message}`);
  process.exit(2);
}
