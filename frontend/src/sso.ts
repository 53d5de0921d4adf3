import { messageForCode, type UiError } from './errors'

// An address from the server is still not trusted with the page: `javascript:` would run script in the
// SPA's origin, and `data:` or other schemes have no place in an OIDC redirect.
const SAFE_SCHEMES = new Set(['http:', 'https:'])

/** Whether `url` is an absolute `http:` or `https:` address, the only kind the SPA leaves for. */
export function isSafeSignInUrl(url: string): boolean {
  try {
    return SAFE_SCHEMES.has(new URL(url).protocol)
  } catch {
    return false
  }
}

/**
 * Sends the browser to the identity provider's `authorizationUrl` (from `ssoLoginStart` or `ssoLinkStart`).
 * Any other scheme is refused: nothing happens and the error to show is returned.
 */
export function goToIdentityProvider(url: string): UiError | null {
  if (!isSafeSignInUrl(url)) return { code: 'UNSAFE_REDIRECT', message: messageForCode('UNSAFE_REDIRECT') }
  window.location.assign(url)
  return null
}

const SSO_TEST_KEY = 'keyward:sso-test'

/** The SSO form's text fields as typed (the client secret is never kept). */
export type SsoFormDraft = Record<string, string>

/** What a pending test sign-in left for the page the IdP sends the browser back to. */
export interface PendingSsoTest {
  /** Always "test": the callback then calls `ssoTestFinish`, not `ssoLoginFinish`/`ssoLinkFinish`. */
  kind: 'test'
  /** The form's unsaved values, to put back after the test. */
  draft: SsoFormDraft
}

/** Remembers, before leaving for the IdP, that this is a test sign-in and what the form held (without the secret). */
export function rememberSsoTest(draft: SsoFormDraft, storage: Storage = sessionStorage): void {
  const kept = Object.fromEntries(Object.entries(draft).filter(([field]) => field !== 'clientSecret'))
  storage.setItem(SSO_TEST_KEY, JSON.stringify({ kind: 'test', draft: kept } satisfies PendingSsoTest))
}

/** The test sign-in this tab started, if any (a broken entry counts as none). */
export function pendingSsoTest(storage: Storage = sessionStorage): PendingSsoTest | null {
  try {
    const value = JSON.parse(storage.getItem(SSO_TEST_KEY) ?? 'null') as PendingSsoTest | null
    return value?.kind === 'test' && value.draft && typeof value.draft === 'object' ? value : null
  } catch {
    return null
  }
}

/** Forgets the pending test sign-in. */
export function clearSsoTest(storage: Storage = sessionStorage): void {
  storage.removeItem(SSO_TEST_KEY)
}

/** The code and state the IdP's redirect left for a test sign-in (`testCode`, or `linkCode` when forwarded as a link). */
export function ssoTestCallback(search: string): { code: string; state: string } | null {
  const params = new URLSearchParams(search)
  const code = params.get('testCode') ?? params.get('linkCode') ?? params.get('code')
  const state = params.get('testState') ?? params.get('linkState') ?? params.get('state')
  return code && state ? { code, state } : null
}
