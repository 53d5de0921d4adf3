// Where the e2e stack listens, and the settings the journeys depend on.
export const IDP_PORT = 9401;
export const IDP_ORIGIN = `http://127.0.0.1:${IDP_PORT}`;
export const BACKENDS = [
  { name: 'sqlite', port: 18081, redisDb: 1 },
  { name: 'postgres', port: 18082, redisDb: 2 },
] as const;
/** The organization the gateways create on first start. */
export const ORGANIZATION = 'default';
/**
 * How long a begun WebAuthn or SSO ceremony may be finished (`KEYWARD_CEREMONY__TTL`). The
 * expiry journey waits it out, so it is short; the server accepts 10 s at least, and an SSO round
 * trip through the IdP's forms must fit comfortably in it on a slow machine.
 */
export const CEREMONY_TTL_SECONDS = 15;
