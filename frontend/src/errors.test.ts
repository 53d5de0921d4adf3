import { CombinedError } from '@urql/core'
import { describe, expect, it } from 'vitest'
import { describeApprovalError, describeError, describeKeyStepError, describeWebauthnError, isFinalApprovalError, messageForCode } from './errors'

/** A GraphQL error as the server sends it: the message is for logs, the code and extensions decide. */
function graphQLError(extensions: Record<string, unknown>, message = 'server text that must not matter'): CombinedError {
  return new CombinedError({ graphQLErrors: [{ message, extensions }] })
}

describe('approval error codes', () => {
  it('maps APPROVER_NOT_ELIGIBLE by its reason, not by the message', () => {
    const requester = describeError(graphQLError({ code: 'APPROVER_NOT_ELIGIBLE', reason: 'REQUESTER' }))
    expect(requester).toMatchObject({ code: 'APPROVER_NOT_ELIGIBLE', reason: 'REQUESTER' })
    expect(requester.message).toBe('You requested this run, so you cannot approve it yourself: another member must.')
    expect(requester.detail).toBeUndefined()

    const sameKey = describeError(graphQLError({ code: 'APPROVER_NOT_ELIGIBLE', reason: 'SAME_KEY' }, 'REQUESTER'))
    expect(sameKey.message).toContain('This security key has already been used on this request')
    expect(describeError(graphQLError({ code: 'APPROVER_NOT_ELIGIBLE', reason: 'COMMIT_AUTHOR' })).message).toContain('You wrote the commit')
    expect(describeError(graphQLError({ code: 'APPROVER_NOT_ELIGIBLE', reason: 'ALREADY_VOTED' })).message).toContain('already decided')
  })

  it('has a general sentence for an unknown or missing reason', () => {
    expect(describeError(graphQLError({ code: 'APPROVER_NOT_ELIGIBLE' })).message).toBe('You cannot approve this request.')
    expect(describeError(graphQLError({ code: 'APPROVER_NOT_ELIGIBLE', reason: 'NEW_RULE' }))).toMatchObject({
      message: 'You cannot approve this request.',
      reason: 'NEW_RULE',
    })
  })

  it('says expired and already decided requests apart', () => {
    expect(describeError(graphQLError({ code: 'APPROVAL_EXPIRED' })).message).toBe(messageForCode('APPROVAL_EXPIRED'))
    expect(messageForCode('APPROVAL_EXPIRED')).toContain('expired')
    expect(messageForCode('APPROVAL_NOT_PENDING')).toContain('already been decided')
  })

  it('tells the approver what to press after a key problem', () => {
    const failed = describeApprovalError(describeError(graphQLError({ code: 'CEREMONY_FAILED' })), 'Approve')
    expect(failed.message).toBe('Your security key was not accepted for this request; press “Approve” and use a key registered to your account.')
    const cancelled = describeApprovalError({ code: 'WEBAUTHN_CANCELLED', message: '' }, 'Reject with security key')
    expect(cancelled.message).toContain('press “Reject with security key” to try again')
    const expired = { code: 'APPROVAL_EXPIRED', message: messageForCode('APPROVAL_EXPIRED') }
    expect(describeApprovalError(expired, 'Approve')).toBe(expired)
  })

  it('keeps the buttons off only when trying again cannot help', () => {
    expect(isFinalApprovalError({ code: 'APPROVER_NOT_ELIGIBLE', message: '' })).toBe(true)
    expect(isFinalApprovalError({ code: 'APPROVAL_EXPIRED', message: '' })).toBe(true)
    expect(isFinalApprovalError({ code: 'APPROVAL_NOT_PENDING', message: '' })).toBe(true)
    expect(isFinalApprovalError({ code: 'CEREMONY_FAILED', message: '' })).toBe(false)
    expect(isFinalApprovalError({ code: 'WEBAUTHN_CANCELLED', message: '' })).toBe(false)
    expect(isFinalApprovalError(null)).toBe(false)
  })
})

describe('key step errors', () => {
  it('says whose key is expected and what to do next for KEY_NOT_REGISTERED, keeping the server text as technical detail', () => {
    const raw = describeError(graphQLError({ code: 'KEY_NOT_REGISTERED' }, 'credential is not registered'))
    expect(raw.message).toBe("That security key isn't registered to your account. Try another key.")
    const shown = describeKeyStepError(raw, 'Bob Member')
    expect(shown.message).toBe("That key isn't registered to Bob Member. Try another key or use a recovery code.")
    expect(shown.technical).toBe('KEY_NOT_REGISTERED: credential is not registered')
  })

  it('maps the browser NotAllowedError (cancel or timeout) to one sentence with the browser detail behind it', () => {
    const err = new Error('The operation either timed out or was not allowed.')
    err.name = 'NotAllowedError'
    const raw = describeWebauthnError(err)
    expect(raw.code).toBe('WEBAUTHN_CANCELLED')
    const shown = describeKeyStepError(raw, 'Bob')
    expect(shown.message).toMatch(/did not answer in time, or the request was cancelled\. Press Retry .*use a recovery code\.$/)
    expect(shown.technical).toBe('NotAllowedError: The operation either timed out or was not allowed.')
  })

  it('leaves errors it has no better sentence for as they are', () => {
    const raw = describeError(graphQLError({ code: 'RATE_LIMITED', retryAfterSeconds: 30 }))
    expect(describeKeyStepError(raw, 'Bob')).toBe(raw)
  })
})
