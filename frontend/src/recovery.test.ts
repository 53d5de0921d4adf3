import { describe, expect, it } from 'vitest'
import { lostKeyCandidates } from './recovery'

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
