// Pipeline approvals in words: time left, what a request needs, why the viewer cannot approve, and short
// forms of digests and commits. Pure functions (unit-tested in approvalWords.test.ts).
import { formatDuration, plural } from './format'

/** What a pending request needs (the API's `ApprovalRequirements`). */
export interface Requirements {
  count: number
  groupsAll: readonly string[]
  groupsAny: readonly string[]
  excludeRequester: boolean
  excludeCommitAuthor: boolean
  distinctKeys: boolean
  deviceBoundOnly: boolean
  maxMfaAgeSeconds?: number | null
  expiresInSeconds: number
}

/** Seconds from `now` (ms) until `iso`; negative once past. */
export function secondsUntil(iso: string, now: number): number {
  return (new Date(iso).getTime() - now) / 1000
}

const pad = (n: number) => String(n).padStart(2, '0')

/**
 * A countdown for people: "expired", "45 s", "12:05" (minutes:seconds under an hour), "1 h 02 min",
 * "2 d 3 h". Whole seconds, rounded up, so "0 s" is never shown while time is left.
 */
export function formatTimeLeft(expiresAt: string, now: number): string {
  const left = Math.ceil(secondsUntil(expiresAt, now))
  if (left <= 0) return 'expired'
  if (left < 60) return `${left} s`
  if (left < 3600) return `${Math.floor(left / 60)}:${pad(left % 60)}`
  if (left < 86_400) return `${Math.floor(left / 3600)} h ${pad(Math.floor((left % 3600) / 60))} min`
  return `${Math.floor(left / 86_400)} d ${Math.floor((left % 86_400) / 3600)} h`
}

/** How urgent the countdown is: past, under five minutes, or fine. */
export function timeLeftTone(expiresAt: string, now: number): 'expired' | 'soon' | 'ok' {
  const left = secondsUntil(expiresAt, now)
  if (left <= 0) return 'expired'
  return left < 300 ? 'soon' : 'ok'
}

/** `a, b and c`. */
export function listWords(items: readonly string[]): string {
  if (items.length <= 1) return items.join('')
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`
}

/** `a, b or c`. */
function orWords(items: readonly string[]): string {
  if (items.length <= 1) return items.join('')
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`
}

/** What a pending request needs, one sentence per rule, most important first. */
export function describeRequirements(req: Requirements): string[] {
  const lines = [
    req.count === 1 ? '1 approval.' : `${req.count} approvals, each from a different person.`,
  ]
  if (req.groupsAll.length > 0) {
    lines.push(
      req.groupsAll.length === 1
        ? `At least one approver from the group ${req.groupsAll[0]}.`
        : `At least one approver from each of the groups ${listWords(req.groupsAll)}.`,
    )
  }
  if (req.groupsAny.length > 0) {
    lines.push(
      req.groupsAny.length === 1
        ? `Only members of the group ${req.groupsAny[0]} may approve.`
        : `Only members of the groups ${orWords(req.groupsAny)} may approve.`,
    )
  }
  if (req.excludeRequester && req.excludeCommitAuthor) lines.push('Not the requester, and not the author of the commit.')
  else if (req.excludeRequester) lines.push('Not the requester.')
  else if (req.excludeCommitAuthor) lines.push('Not the author of the commit.')
  if (req.distinctKeys) lines.push('Each approval with a different security key.')
  if (req.deviceBoundOnly) lines.push('Device-bound security keys only (synced passkeys do not count).')
  if (req.maxMfaAgeSeconds != null) {
    lines.push(`An approval counts for ${formatDuration(req.maxMfaAgeSeconds)}: older ones must be given again.`)
  }
  lines.push(`Expires ${formatDuration(req.expiresInSeconds)} after it was requested.`)
  return lines
}

/** "1 of 2 approvals", from the votes so far and how many are still needed. */
export function approvalProgress(approved: number, needed: number): string {
  const total = approved + Math.max(0, needed)
  return `${approved} of ${plural(total, 'approval', 'approvals')}`
}

/** What a request the viewer just decided on looks like, as far as the sentence below needs. */
interface Decided {
  pipeline: string
  stage: string
  environment: string
  status: string
  approvalsNeeded: number
  approvals: readonly { decision: string }[]
}

/** What the viewer's decision did, in a sentence. */
export function decidedMessage(request: Decided): string {
  const what = `${request.pipeline}: ${request.stage} → ${request.environment}`
  if (request.status === 'REJECTED') return `You rejected “${what}”. The pipeline stops.`
  if (request.status === 'APPROVED') return `You approved “${what}”: it is approved, and the pipeline can go on.`
  const approvals = request.approvals.filter((vote) => vote.decision === 'APPROVE').length
  return `You approved “${what}”: ${approvalProgress(approvals, request.approvalsNeeded)} so far.`
}

/** Why an approver cannot approve, by the stable reason code (APPROVER_NOT_ELIGIBLE's `extensions.reason`). */
const NOT_ELIGIBLE: Record<string, string> = {
  REQUESTER: 'You requested this run, so you cannot approve it yourself: another member must.',
  COMMIT_AUTHOR: 'You wrote the commit being deployed, so you cannot approve it: another member must.',
  ALREADY_VOTED: 'You have already decided on this request; each person counts once.',
  SAME_KEY: 'This security key has already been used on this request; another approver must use their own key.',
  NOT_IN_GROUP: 'You are not in a group whose members may approve this request.',
  KEY_NOT_DEVICE_BOUND:
    'This request needs a device-bound security key, and the key you used can be synced (a passkey). Use a hardware security key.',
  MFA_TOO_OLD: 'Your last security key check is too old for this request. Log in again with your key, then approve.',
}

/** A sentence for an APPROVER_NOT_ELIGIBLE reason code; a general one for codes this SPA does not know. */
export function notEligibleMessage(reason: unknown): string {
  return (typeof reason === 'string' && NOT_ELIGIBLE[reason]) || 'You cannot approve this request.'
}

/**
 * Why the viewer cannot approve (`viewerBlockedReason`): a known reason code in words, otherwise the server's
 * text (it is written for people) as a sentence, or a general sentence when there is none.
 */
export function blockedReasonText(reason: string | null | undefined): string {
  const text = reason?.trim()
  if (!text) return 'You cannot approve this request.'
  const known = NOT_ELIGIBLE[text]
  if (known) return known
  const sentence = text.charAt(0).toUpperCase() + text.slice(1)
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`
}

/** The first 12 hex digits of a digest, then an ellipsis. */
export function shortDigest(digest: string): string {
  return digest.length > 12 ? `${digest.slice(0, 12)}…` : digest
}

/** A commit's short SHA (7 characters, as git shows it). */
export function shortSha(sha: string): string {
  return sha.slice(0, 7)
}

/** Status names for people. */
export const STATUS_LABELS: Record<string, string> = {
  PENDING: 'Pending',
  APPROVED: 'Approved',
  REJECTED: 'Rejected',
  EXPIRED: 'Expired',
}

/** A badge class for a status. */
export function statusTone(status: string): 'badge-warning' | 'badge-success' | 'badge-error' | '' {
  if (status === 'PENDING') return 'badge-warning'
  if (status === 'APPROVED') return 'badge-success'
  if (status === 'REJECTED') return 'badge-error'
  return ''
}
