import { describe, expect, it } from 'vitest'
import {
  approvalProgress,
  blockedReasonText,
  decidedMessage,
  describeRequirements,
  formatTimeLeft,
  notEligibleMessage,
  shortDigest,
  shortSha,
  timeLeftTone,
  type Requirements,
} from './approvalWords'

const NOW = Date.parse('2026-11-30T12:00:00Z')
const inSeconds = (s: number) => new Date(NOW + s * 1000).toISOString()

/** The built-in policy's requirements (contract: count 1, not requester or author, distinct keys, 1 h). */
const BUILT_IN: Requirements = {
  count: 1,
  groupsAll: [],
  groupsAny: [],
  excludeRequester: true,
  excludeCommitAuthor: true,
  distinctKeys: true,
  deviceBoundOnly: false,
  maxMfaAgeSeconds: null,
  expiresInSeconds: 3600,
}

describe('formatTimeLeft', () => {
  it('counts down in the unit that matters', () => {
    expect(formatTimeLeft(inSeconds(45), NOW)).toBe('45 s')
    expect(formatTimeLeft(inSeconds(60), NOW)).toBe('1:00')
    expect(formatTimeLeft(inSeconds(12 * 60 + 5), NOW)).toBe('12:05')
    expect(formatTimeLeft(inSeconds(3599), NOW)).toBe('59:59')
    expect(formatTimeLeft(inSeconds(3600 + 2 * 60), NOW)).toBe('1 h 02 min')
    expect(formatTimeLeft(inSeconds(2 * 86_400 + 3 * 3600), NOW)).toBe('2 d 3 h')
  })

  it('rounds up, so a request with time left never shows 0', () => {
    expect(formatTimeLeft(inSeconds(0.2), NOW)).toBe('1 s')
  })

  it('says expired at and after the deadline', () => {
    expect(formatTimeLeft(inSeconds(0), NOW)).toBe('expired')
    expect(formatTimeLeft(inSeconds(-30), NOW)).toBe('expired')
  })

  it('marks the last five minutes as urgent', () => {
    expect(timeLeftTone(inSeconds(301), NOW)).toBe('ok')
    expect(timeLeftTone(inSeconds(299), NOW)).toBe('soon')
    expect(timeLeftTone(inSeconds(0), NOW)).toBe('expired')
  })
})

describe('describeRequirements', () => {
  it('says the built-in policy in four sentences', () => {
    expect(describeRequirements(BUILT_IN)).toEqual([
      '1 approval.',
      'Not the requester, and not the author of the commit.',
      'Each approval with a different security key.',
      'Expires 1 hour after it was requested.',
    ])
  })

  it('names groups, device-bound keys and the approval window', () => {
    const lines = describeRequirements({
      ...BUILT_IN,
      count: 2,
      groupsAll: ['sre', 'security'],
      groupsAny: ['sre', 'security', 'leads'],
      excludeCommitAuthor: false,
      distinctKeys: false,
      deviceBoundOnly: true,
      maxMfaAgeSeconds: 900,
      expiresInSeconds: 1800,
    })
    expect(lines).toEqual([
      '2 approvals, each from a different person.',
      'At least one approver from each of the groups sre and security.',
      'Only members of the groups sre, security or leads may approve.',
      'Not the requester.',
      'Device-bound security keys only (synced passkeys do not count).',
      'An approval counts for 15 minutes: older ones must be given again.',
      'Expires 30 minutes after it was requested.',
    ])
  })

  it('uses the singular for one group and names the commit author alone', () => {
    const lines = describeRequirements({ ...BUILT_IN, groupsAll: ['sre'], groupsAny: ['ops'], excludeRequester: false })
    expect(lines).toContain('At least one approver from the group sre.')
    expect(lines).toContain('Only members of the group ops may approve.')
    expect(lines).toContain('Not the author of the commit.')
  })
})

describe('approvalProgress', () => {
  it('counts approvals so far against the total', () => {
    expect(approvalProgress(0, 1)).toBe('0 of 1 approval')
    expect(approvalProgress(1, 1)).toBe('1 of 2 approvals')
    expect(approvalProgress(2, 0)).toBe('2 of 2 approvals')
  })
})

describe('decidedMessage', () => {
  const request = { pipeline: 'billing', stage: 'deploy', environment: 'production', approvalsNeeded: 1, approvals: [{ decision: 'APPROVE' }] }
  it('says what the decision did', () => {
    expect(decidedMessage({ ...request, status: 'PENDING' })).toBe('You approved “billing: deploy → production”: 1 of 2 approvals so far.')
    expect(decidedMessage({ ...request, status: 'APPROVED', approvalsNeeded: 0 })).toContain('it is approved')
    expect(decidedMessage({ ...request, status: 'REJECTED' })).toBe('You rejected “billing: deploy → production”. The pipeline stops.')
  })
})

describe('why the viewer cannot approve', () => {
  it('says each reason code in words', () => {
    for (const reason of ['REQUESTER', 'COMMIT_AUTHOR', 'ALREADY_VOTED', 'SAME_KEY', 'NOT_IN_GROUP', 'KEY_NOT_DEVICE_BOUND', 'MFA_TOO_OLD']) {
      expect(notEligibleMessage(reason)).not.toBe(notEligibleMessage(undefined))
    }
    expect(notEligibleMessage('REQUESTER')).toBe('You requested this run, so you cannot approve it yourself: another member must.')
    expect(notEligibleMessage('SOMETHING_NEW')).toBe('You cannot approve this request.')
    expect(notEligibleMessage(42)).toBe('You cannot approve this request.')
  })

  it('shows a blocked reason code in words, and the server text of anything else as it came', () => {
    expect(blockedReasonText('ALREADY_VOTED')).toBe('You have already decided on this request; each person counts once.')
    expect(blockedReasonText('Only the on-call approver may decide.')).toBe('Only the on-call approver may decide.')
    expect(blockedReasonText('you have already voted on this request')).toBe('You have already voted on this request.')
    expect(blockedReasonText(null)).toBe('You cannot approve this request.')
  })
})

describe('short forms', () => {
  it('shortens digests and commits', () => {
    const digest = 'a'.repeat(64)
    expect(shortDigest(digest)).toBe(`${'a'.repeat(12)}…`)
    expect(shortDigest('abc')).toBe('abc')
    expect(shortSha('3f2a9c1e8b7d6a5f4e3d')).toBe('3f2a9c1')
  })
})
