import { describe, expect, it } from 'vitest'
import { lostKeyCandidates, suggestRemovingLostKeys } from './recovery'

describe('lostKeyCandidates', () => {
  it('is every key but the newest', () => {
    const keys = [
      { id: 'old', createdAt: '2026-11-01T10:00:00Z' },
      { id: 'new', createdAt: '2026-11-30T10:00:00Z' },
      { id: 'mid', createdAt: '2026-11-15T10:00:00Z' },
    ]
    expect(lostKeyCandidates(keys).map((k) => k.id)).toEqual(['old', 'mid'])
  })

  it('is empty with one key or none', () => {
    expect(lostKeyCandidates([{ id: 'only', createdAt: '2026-11-01T10:00:00Z' }])).toEqual([])
    expect(lostKeyCandidates([])).toEqual([])
  })
})

describe('suggestRemovingLostKeys', () => {
  it('follows the session: only after a recovery code', () => {
    expect(suggestRemovingLostKeys('m1', ['SSO', 'RECOVERY_CODE', 'SECURITY_KEY'])).toBe(true)
    expect(suggestRemovingLostKeys('m1', ['SSO', 'SECURITY_KEY'])).toBe(false)
    expect(suggestRemovingLostKeys(undefined, ['RECOVERY_CODE'])).toBe(false)
  })
})
