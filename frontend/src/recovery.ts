// After a recovery code the member registers a new key; the key they lost is still registered until they
// delete it. This remembers, for this browser tab only, that the member recovered, so the keys page can
// suggest deleting the lost key. It holds a member ID, never a token.
const STORAGE_KEY = 'keyward:recovered-member'

function storage(): Storage | null {
  try {
    return window.sessionStorage
  } catch {
    // Storage may be disabled; the suggestion is a courtesy, so go without it.
    return null
  }
}

/** Notes that `memberId` just replaced their key with a recovery code. */
export function markRecovered(memberId: string): void {
  storage()?.setItem(STORAGE_KEY, memberId)
}

/** Whether `memberId` recovered with a code in this tab and has not dismissed the suggestion yet. */
export function hasRecovered(memberId: string | undefined): boolean {
  return !!memberId && storage()?.getItem(STORAGE_KEY) === memberId
}

/** Forgets the recovery (the suggestion was dismissed, or the session ended). */
export function clearRecovered(): void {
  storage()?.removeItem(STORAGE_KEY)
}

const DISMISSED_KEY = 'keyward:lost-keys-dismissed'

/**
 * Whether to suggest removing the lost key(s): the session used a recovery code (`methods` has RECOVERY_CODE,
 * or this tab remembers the recovery) and the member has not dismissed the suggestion in this tab.
 */
export function suggestRemovingLostKeys(memberId: string | undefined, methods: readonly string[] | undefined): boolean {
  if (!memberId) return false
  const recovered = (methods ?? []).includes('RECOVERY_CODE') || hasRecovered(memberId)
  return recovered && storage()?.getItem(DISMISSED_KEY) !== memberId
}

/** The member dismissed the lost-keys suggestion: it stays away for this tab. */
export function dismissLostKeys(memberId: string): void {
  clearRecovered()
  storage()?.setItem(DISMISSED_KEY, memberId)
}

/** A key as the lost-keys suggestion needs it. */
export interface KeyLike {
  id: string
  createdAt: string
}

/**
 * The keys that may be the lost ones: every key but the newest (the one registered after the recovery code).
 * Oldest first, as the server lists them.
 */
export function lostKeyCandidates<K extends KeyLike>(keys: readonly K[]): K[] {
  if (keys.length < 2) return []
  let newest = keys[0]
  for (const key of keys) if (Date.parse(key.createdAt) >= Date.parse(newest.createdAt)) newest = key
  return keys.filter((key) => key.id !== newest.id)
}
