import { describe, expect, it } from 'vitest'
import { shownValue } from './PolicyPreviewDialog'

const NAMES = new Map([['cb69481e8ff7403993ec0a2729a154a8', 'YubiKey 5 Series']])

describe('shownValue', () => {
  it('says none for an empty value or list', () => {
    expect(shownValue('', NAMES)).toBe('none')
    expect(shownValue('[]', NAMES)).toBe('none')
  })

  it('names known models and leaves unknown AAGUIDs and other values alone', () => {
    expect(shownValue('cb69481e-8ff7-4039-93ec-0a2729a154a8, 00000000-0000-0000-0000-000000000001', NAMES)).toBe(
      'YubiKey 5 Series (cb69481e-8ff7-4039-93ec-0a2729a154a8), 00000000-0000-0000-0000-000000000001',
    )
    expect(shownValue('REQUIRED', NAMES)).toBe('REQUIRED')
  })
})
