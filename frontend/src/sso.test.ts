import { describe, expect, it } from 'vitest'
import { clearSsoTest, isSafeSignInUrl, pendingSsoTest, rememberSsoTest, ssoTestCallback } from './sso'

/** A Storage in memory (Vitest runs without a DOM). */
function memoryStorage(): Storage {
  const items = new Map<string, string>()
  return {
    get length() {
      return items.size
    },
    clear: () => items.clear(),
    getItem: (key) => items.get(key) ?? null,
    key: (i) => [...items.keys()][i] ?? null,
    removeItem: (key) => void items.delete(key),
    setItem: (key, value) => void items.set(key, value),
  }
}

describe('the pending SSO test sign-in', () => {
  it('keeps the form values but never the client secret', () => {
    const storage = memoryStorage()
    rememberSsoTest({ issuer: 'https://idp.example', clientId: 'kw', clientSecret: 's3cret', allowedEmailDomains: '' }, storage)
    expect(pendingSsoTest(storage)).toEqual({ kind: 'test', draft: { issuer: 'https://idp.example', clientId: 'kw', allowedEmailDomains: '' } })
    expect(storage.getItem('keyward:sso-test')).not.toContain('s3cret')
    clearSsoTest(storage)
    expect(pendingSsoTest(storage)).toBeNull()
  })

  it('ignores a broken entry', () => {
    const storage = memoryStorage()
    storage.setItem('keyward:sso-test', '{not json')
    expect(pendingSsoTest(storage)).toBeNull()
    storage.setItem('keyward:sso-test', JSON.stringify({ kind: 'login' }))
    expect(pendingSsoTest(storage)).toBeNull()
  })
})

describe('ssoTestCallback', () => {
  it('reads the code and state the callback forwarded', () => {
    expect(ssoTestCallback('?testCode=c&testState=s')).toEqual({ code: 'c', state: 's' })
    expect(ssoTestCallback('?linkCode=c&linkState=s')).toEqual({ code: 'c', state: 's' })
    expect(ssoTestCallback('?tested=1')).toBeNull()
  })
})

describe('isSafeSignInUrl', () => {
  it('allows only http and https', () => {
    expect(isSafeSignInUrl('https://idp.example/auth')).toBe(true)
    expect(isSafeSignInUrl('javascript:alert(1)')).toBe(false)
  })
})
