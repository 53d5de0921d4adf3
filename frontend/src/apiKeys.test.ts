import { describe, expect, it } from 'vitest'
import { apiKeyProblems, apiKeyState, expiryFromDate, scopeName } from './apiKeys'

const NOW = Date.parse('2026-11-30T12:00:00Z')

describe('API keys', () => {
  it('names scopes as the docs do', () => {
    expect(scopeName('APPROVALS_REQUEST')).toBe('approvals:request')
    expect(scopeName('ORG_READ')).toBe('org:read')
    expect(scopeName('FUTURE_SCOPE')).toBe('FUTURE_SCOPE')
  })

  it('tells revoked, expired and active keys apart', () => {
    expect(apiKeyState({ active: false, revokedAt: '2026-11-29T00:00:00Z' }, NOW)).toBe('revoked')
    expect(apiKeyState({ active: true, expiresAt: '2026-11-30T11:59:59Z' }, NOW)).toBe('expired')
    expect(apiKeyState({ active: true, expiresAt: '2026-12-01T00:00:00Z' }, NOW)).toBe('active')
    expect(apiKeyState({ active: true }, NOW)).toBe('active')
  })

  it('lets a key live to the end of the chosen day', () => {
    const iso = expiryFromDate('2026-12-24')!
    const end = new Date(iso)
    expect([end.getFullYear(), end.getMonth() + 1, end.getDate(), end.getHours(), end.getMinutes()]).toEqual([2026, 12, 24, 23, 59])
    expect(expiryFromDate('')).toBeNull()
    expect(expiryFromDate('not a date')).toBeNull()
  })

  it('checks the create form', () => {
    expect(apiKeyProblems({ name: 'GitHub Actions', scopes: ['APPROVALS_REQUEST'], expiry: '' }, NOW)).toEqual({})
    const problems = apiKeyProblems({ name: '  ', scopes: [], expiry: '2020-01-01' }, NOW)
    expect(Object.keys(problems).sort()).toEqual(['expiresAt', 'name', 'scopes'])
    expect(apiKeyProblems({ name: 'x'.repeat(65), scopes: ['ORG_READ'], expiry: '' }, NOW).name).toContain('under 65')
  })
})
