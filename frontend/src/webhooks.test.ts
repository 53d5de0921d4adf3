import { describe, expect, it } from 'vitest'
import { eventName, webhookProblems } from './webhooks'

describe('webhook form', () => {
  it('accepts an http(s) address with at least one event', () => {
    expect(webhookProblems('https://hooks.example.com/keyward', ['APPROVAL_REQUESTED'])).toEqual({})
    expect(webhookProblems(' http://127.0.0.1:9000/hook ', ['APPROVAL_EXPIRED'])).toEqual({})
  })

  it('refuses other schemes, credentials in the address, and no events', () => {
    expect(webhookProblems('', ['APPROVAL_REQUESTED']).url).toContain('Enter the address')
    expect(webhookProblems('ftp://example.com', ['APPROVAL_REQUESTED']).url).toContain('https://')
    expect(webhookProblems('javascript:alert(1)', ['APPROVAL_REQUESTED']).url).toContain('https://')
    expect(webhookProblems('hooks.example.com', ['APPROVAL_REQUESTED']).url).toContain('https://')
    expect(webhookProblems('https://user:pw@example.com', ['APPROVAL_REQUESTED']).url).toContain('credentials')
    expect(webhookProblems('https://example.com', []).events).toBe('Choose at least one event.')
  })

  it('names events as the payload does', () => {
    expect(eventName('APPROVAL_APPROVED')).toBe('approval.approved')
    expect(eventName('OTHER')).toBe('OTHER')
  })
})
