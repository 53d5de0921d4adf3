// The /step-up page is often the first page a browser opens (a link from a terminal, or a tool behind
// Keyward's forward auth), and so is an approval request (a link a pipeline printed). Without a session it
// goes through the normal login first, which may leave the SPA for the IdP; this remembers, for this tab only
// and for a few minutes, where to come back to.
const STORAGE_KEY = 'keyward:after-login'
/** Long enough for a login through the IdP and a key touch; as long as a half-done login may live. */
const TTL_MS = 10 * 60 * 1000

interface Saved {
  path: string
  at: number
}

function storage(): Storage | null {
  try {
    return window.sessionStorage
  } catch {
    return null
  }
}

/**
 * Only the step-up page and the approvals (opened from a pipeline's link) are worth coming back to, so nothing
 * else can be smuggled in here.
 */
export function isReturnPath(path: string): boolean {
  return path === '/step-up' || path.startsWith('/step-up?') || /^\/approvals(\/[A-Za-z0-9_-]+)?(\?status=[a-z]+)?$/.test(path)
}

/** Remembers `path` (a /step-up or /approvals address) to return to once logged in. */
export function rememberAfterLogin(path: string): void {
  if (!isReturnPath(path)) return
  storage()?.setItem(STORAGE_KEY, JSON.stringify({ path, at: Date.now() } satisfies Saved))
}

/** Where to go once logged in, if a step-up page sent the user to log in a short while ago. */
export function pendingAfterLogin(now: number = Date.now()): string | null {
  const raw = storage()?.getItem(STORAGE_KEY)
  if (!raw) return null
  try {
    const saved = JSON.parse(raw) as Saved
    if (typeof saved.path === 'string' && isReturnPath(saved.path) && typeof saved.at === 'number' && now - saved.at < TTL_MS) {
      return saved.path
    }
  } catch {
    // A value this code did not write: ignore it.
  }
  return null
}

/** Forgets the return (the step-up page was reached, or the user logged out). */
export function clearAfterLogin(): void {
  storage()?.removeItem(STORAGE_KEY)
}
