import { describe, expect, it } from 'vitest'
import { describeTimeZone, formatCount, formatMemberSummary, formatUtcOffset, keyShare } from './rollout'

describe('formatMemberSummary', () => {
  it('says how many have a key, the share, and who is at risk', () => {
    expect(formatMemberSummary({ members: 500, withKey: 412, withoutKey: 88, withOneKey: 140 })).toBe(
      '412 of 500 have a key, 82% · 88 without · 140 with only one',
    )
  })

  it('groups thousands', () => {
    expect(formatMemberSummary({ members: 12500, withKey: 11042, withoutKey: 1458, withOneKey: 3001 })).toBe(
      '11,042 of 12,500 have a key, 88% · 1,458 without · 3,001 with only one',
    )
  })

  it('says so when there is nobody', () => {
    expect(formatMemberSummary({ members: 0, withKey: 0, withoutKey: 0, withOneKey: 0 })).toBe('No active members yet')
  })
})

describe('keyShare', () => {
  it('rounds down so that 100% means everyone', () => {
    expect(keyShare({ members: 1000, withKey: 999, withoutKey: 1, withOneKey: 0 })).toBe(99)
    expect(keyShare({ members: 3, withKey: 3, withoutKey: 0, withOneKey: 3 })).toBe(100)
  })
})

describe('time zones', () => {
  it('writes offsets with sign, hours and minutes', () => {
    expect(formatUtcOffset(60)).toBe('+01:00')
    expect(formatUtcOffset(-330)).toBe('-05:30')
    expect(formatUtcOffset(0)).toBe('+00:00')
    expect(formatUtcOffset(345)).toBe('+05:45')
  })

  it('names the zone with its offset', () => {
    expect(describeTimeZone('Europe/Berlin', 60)).toBe('Europe/Berlin (UTC+01:00)')
  })

  it('groups counts', () => {
    expect(formatCount(1042)).toBe('1,042')
  })
})
