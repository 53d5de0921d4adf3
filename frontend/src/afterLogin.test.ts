import { describe, expect, it } from 'vitest'
import { isReturnPath } from './afterLogin'

describe('where a login may return to', () => {
  it('allows the step-up page and the approvals', () => {
    expect(isReturnPath('/step-up?action=x')).toBe(true)
    expect(isReturnPath('/approvals')).toBe(true)
    expect(isReturnPath('/approvals?status=decided')).toBe(true)
    expect(isReturnPath('/approvals/0192f0c4-7b1e-7000-8000-000000000001')).toBe(true)
  })

  it('refuses anything else', () => {
    expect(isReturnPath('/org/mfa')).toBe(false)
    expect(isReturnPath('//evil.example/approvals')).toBe(false)
    expect(isReturnPath('/approvals/../org/mfa')).toBe(false)
    expect(isReturnPath('/approvals/x?return=//evil.example')).toBe(false)
  })
})
