import { describe, expect, it } from 'vitest'
import { aaguidKey, isAaguid, matchModels } from './AaguidPicker'

const MODELS = [
  { aaguid: 'cb69481e-8ff7-4039-93ec-0a2729a154a8', name: 'YubiKey 5 Series' },
  { aaguid: 'ee882879-721c-4913-9775-3dfcce97072a', name: 'YubiKey 5 Series with NFC' },
  { aaguid: 'ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4', name: 'Google Password Manager' },
]

describe('matchModels', () => {
  it('finds models by part of the name, case-insensitively', () => {
    expect(matchModels(MODELS, 'yubikey', new Set()).map((m) => m.name)).toEqual(['YubiKey 5 Series', 'YubiKey 5 Series with NFC'])
  })

  it('finds a model by its AAGUID with or without dashes', () => {
    expect(matchModels(MODELS, 'EA9B8D664D01', new Set()).map((m) => m.name)).toEqual(['Google Password Manager'])
  })

  it('leaves out models already chosen, and finds nothing for nothing', () => {
    expect(matchModels(MODELS, 'yubi', new Set([aaguidKey('CB69481E-8FF7-4039-93EC-0A2729A154A8')])).map((m) => m.name)).toEqual([
      'YubiKey 5 Series with NFC',
    ])
    expect(matchModels(MODELS, '  ', new Set())).toEqual([])
  })
})

describe('isAaguid', () => {
  it('accepts 32 hexadecimal digits with or without dashes', () => {
    expect(isAaguid('cb69481e-8ff7-4039-93ec-0a2729a154a8')).toBe(true)
    expect(isAaguid('cb69481e8ff7403993ec0a2729a154a8')).toBe(true)
    expect(isAaguid('YubiKey')).toBe(false)
  })
})
