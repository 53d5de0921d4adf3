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
