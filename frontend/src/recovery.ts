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
