// Recovery codes for people: the file a member downloads, the one-line status on the security keys page,
// and whether the member skipped the "save your recovery codes" step (remembered per member in this browser).

/** The recovery-code status the server reports (`viewer.recoveryCodes`). */
export interface RecoveryCodeStatusLike {
  total: number
  unused: number
  generatedAt?: string | null
}

/** At or under this many unused codes the status warns: time to generate a new set. */
export const LOW_RECOVERY_CODES = 3

/** What the downloaded file says and what it is called. */
export interface RecoveryCodesFile {
  filename: string
  text: string
}

/** Who the codes belong to and where they work, written into the file so it is recognisable later. */
export interface RecoveryCodesOwner {
  organizationName: string
  organizationSlug: string
  username: string
  /** The Keyward address (window.location.origin). */
  url: string
  /** When the codes were generated. */
  generatedAt: Date
}

/** The calendar day of `date` in UTC as YYYY-MM-DD (file names sort by it; no time zone guessing). */
export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10)
}

/** A file-name-safe version of `part`: letters, digits, dot, dash and underscore only. */
function safe(part: string): string {
  return part.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'unknown'
}

/** The text file of recovery codes: the organization, the username, the Keyward URL and the date, then the codes. */
export function recoveryCodesFile(codes: string[], owner: RecoveryCodesOwner): RecoveryCodesFile {
  const day = isoDay(owner.generatedAt)
  const text = [
    'Keyward recovery codes',
    '',
    `Organization: ${owner.organizationName} (${owner.organizationSlug})`,
    `Username:     ${owner.username}`,
    `Keyward:      ${owner.url}`,
    `Generated:    ${day}`,
    '',
    'Each code works once, in place of your security key, if you lose every key you have:',
    'log in as usual, choose "Lost your key? Use a recovery code", then register a new key.',
    'Generating new codes makes these stop working.',
    '',
    ...codes,
    '',
  ].join('\n')
  return { filename: `keyward-recovery-codes-${safe(owner.organizationSlug)}-${safe(owner.username)}-${day}.txt`, text }
}

/** The status line of the security keys page and whether it should warn. */
export interface RecoveryCodeSummary {
  text: string
  warning: boolean
}

/**
 * "8 of 10 recovery codes unused · generated Nov 30"; a warning when none were generated, none are left, or
 * at most LOW_RECOVERY_CODES are. `formatDay` writes the generation day for people.
 */
export function recoveryCodeSummary(status: RecoveryCodeStatusLike, formatDay: (iso: string) => string): RecoveryCodeSummary {
  if (status.total === 0) return { text: 'You have no recovery codes yet.', warning: true }
  const generated = status.generatedAt ? ` · generated ${formatDay(status.generatedAt)}` : ''
  const text = `${status.unused} of ${status.total} recovery codes unused${generated}`
  if (status.unused === 0) return { text: `${text}. Generate new codes: you have none left.`, warning: true }
  if (status.unused <= LOW_RECOVERY_CODES) return { text: `${text}. Running low: generate a new set.`, warning: true }
  return { text, warning: false }
}

const SKIP_KEY = 'keyward:recovery-codes-skipped'

function localStore(): Storage | null {
  try {
    return window.localStorage
  } catch {
    // Storage may be disabled: the step then shows again, which is the safe side.
    return null
  }
}

function skippedIds(store: Storage | null): string[] {
  try {
    const ids: unknown = JSON.parse(store?.getItem(SKIP_KEY) ?? '[]')
    return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : []
  } catch {
    return []
  }
}

/** Remembers (in this browser) that `memberId` chose to skip the recovery-codes step. */
export function skipRecoveryCodes(memberId: string, store: Storage | null = localStore()): void {
  const ids = skippedIds(store)
  if (!ids.includes(memberId)) store?.setItem(SKIP_KEY, JSON.stringify([...ids, memberId]))
}

/** Whether `memberId` skipped the recovery-codes step in this browser. */
export function hasSkippedRecoveryCodes(memberId: string, store: Storage | null = localStore()): boolean {
  return skippedIds(store).includes(memberId)
}

/** Whether to lead a member who has a key and `status` to the "save your recovery codes" step. */
export function shouldOfferRecoveryCodes(memberId: string, status: RecoveryCodeStatusLike, store: Storage | null = localStore()): boolean {
  return status.total === 0 && !hasSkippedRecoveryCodes(memberId, store)
}
