import { describe, expect, it } from 'vitest'
import { hasSkippedRecoveryCodes, isoDay, recoveryCodeSummary, recoveryCodesFile, shouldOfferRecoveryCodes, skipRecoveryCodes } from './recoveryCodes'

/** A Storage kept in memory (Vitest runs in Node, without window.localStorage). */
function memoryStorage(): Storage {
  const items = new Map<string, string>()
  return {
    get length() {
      return items.size
    },
    clear: () => items.clear(),
    getItem: (k) => items.get(k) ?? null,
    key: (i) => [...items.keys()][i] ?? null,
    removeItem: (k) => void items.delete(k),
    setItem: (k, v) => void items.set(k, String(v)),
  }
}

const owner = {
  organizationName: 'Acme Corp',
  organizationSlug: 'acme',
  username: 'bob',
  url: 'https://keyward.acme.test',
  generatedAt: new Date('2026-11-30T19:45:00Z'),
}

describe('recoveryCodesFile', () => {
  it('names the organization, the username, the Keyward URL and the date, then lists every code', () => {
    const file = recoveryCodesFile(['aaaa-bbbb', 'cccc-dddd'], owner)
    expect(file.filename).toBe('keyward-recovery-codes-acme-bob-2026-11-30.txt')
    expect(file.text).toContain('Organization: Acme Corp (acme)')
    expect(file.text).toContain('Username:     bob')
    expect(file.text).toContain('Keyward:      https://keyward.acme.test')
    expect(file.text).toContain('Generated:    2026-11-30')
    expect(file.text.trimEnd().split('\n').slice(-2)).toEqual(['aaaa-bbbb', 'cccc-dddd'])
  })

  it('keeps the file name safe whatever the username holds', () => {
    const file = recoveryCodesFile(['x'], { ...owner, username: '../Bob Smith@corp', organizationSlug: 'a/b' })
    expect(file.filename).toBe('keyward-recovery-codes-a-b-..-Bob-Smith-corp-2026-11-30.txt')
    expect(file.filename).not.toContain('/')
  })

  it('dates by the UTC day', () => {
    expect(isoDay(new Date('2026-01-02T23:59:59Z'))).toBe('2026-01-02')
  })
})

describe('recoveryCodeSummary', () => {
  const day = (iso: string) => `day ${iso.slice(0, 10)}`

  it('says how many are unused and when they were generated', () => {
    expect(recoveryCodeSummary({ total: 10, unused: 8, generatedAt: '2026-11-30T10:00:00Z' }, day)).toEqual({
      text: '8 of 10 recovery codes unused · generated day 2026-11-30',
      warning: false,
    })
  })

  it('warns at 3 or fewer, at 0, and when none were ever generated', () => {
    expect(recoveryCodeSummary({ total: 10, unused: 4, generatedAt: null }, day).warning).toBe(false)
    const low = recoveryCodeSummary({ total: 10, unused: 3, generatedAt: null }, day)
    expect(low).toMatchObject({ warning: true })
    expect(low.text).toMatch(/^3 of 10 recovery codes unused\. Running low/)
    expect(recoveryCodeSummary({ total: 10, unused: 0, generatedAt: null }, day).text).toContain('you have none left')
    expect(recoveryCodeSummary({ total: 0, unused: 0, generatedAt: null }, day)).toEqual({ text: 'You have no recovery codes yet.', warning: true })
  })
})

describe('skipping the recovery-codes step', () => {
  it('is remembered per member', () => {
    const store = memoryStorage()
    const none = { total: 0, unused: 0 }
    expect(shouldOfferRecoveryCodes('m1', none, store)).toBe(true)
    skipRecoveryCodes('m1', store)
    skipRecoveryCodes('m1', store)
    expect(hasSkippedRecoveryCodes('m1', store)).toBe(true)
    expect(shouldOfferRecoveryCodes('m1', none, store)).toBe(false)
    expect(shouldOfferRecoveryCodes('m2', none, store)).toBe(true)
    expect(JSON.parse(store.getItem('keyward:recovery-codes-skipped')!)).toEqual(['m1'])
  })

  it('is not offered once codes exist, and survives a value it did not write', () => {
    const store = memoryStorage()
    expect(shouldOfferRecoveryCodes('m1', { total: 10, unused: 10 }, store)).toBe(false)
    store.setItem('keyward:recovery-codes-skipped', '{not json')
    expect(hasSkippedRecoveryCodes('m1', store)).toBe(false)
  })
})
