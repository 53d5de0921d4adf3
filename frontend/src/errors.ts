import type { CombinedError } from '@urql/core'
import { notEligibleMessage } from './approvalWords'

/** An error ready to show: a sentence for people, the stable code, and optional server detail. */
export interface UiError {
  code: string
  message: string
  detail?: string
  /** For POLICY_DENIED: the step-up action the organization's step-up policy refused (not a key or setting). */
  stepUpAction?: string
  /** For APPROVER_NOT_ELIGIBLE: why (`extensions.reason`: REQUESTER, COMMIT_AUTHOR, ALREADY_VOTED, ...). */
  reason?: string
  /** What the server or the browser said, for a "Technical details" disclosure (never the main sentence). */
  technical?: string
}

/** Codes whose server message is written for users and worth showing as detail. */
const USER_FACING_DETAIL = new Set(['BAD_USER_INPUT', 'POLICY_DENIED', 'CEREMONY_FAILED'])

/** Maps a stable `extensions.code` to a sentence. Never inspects message text. */
export function messageForCode(code: string, retryAfterSeconds?: number): string {
  switch (code) {
    case 'UNAUTHENTICATED':
      return 'You are not logged in, or the details you entered are not right.'
    case 'FORBIDDEN':
      return 'You are not allowed to do this.'
    case 'NOT_FOUND':
      return 'That item no longer exists. Refresh the page and try again.'
    case 'BAD_USER_INPUT':
      return 'Some of the information you entered is not valid.'
    case 'MFA_REQUIRED':
      return 'Touch your security key to finish logging in.'
    case 'MFA_REGISTRATION_REQUIRED':
      return 'Your organization requires a security key. Register one to continue.'
    case 'STEP_UP_REQUIRED':
      return 'This action needs a fresh security key check. Try again, and touch your security key when asked.'
    case 'LAST_KEY_ENFORCED':
      return 'Your organization requires a security key, so you cannot delete your last one. Add another key first, or ask an admin.'
    case 'KEY_NOT_REGISTERED':
      return "That security key isn't registered to your account. Try another key."
    case 'KEY_ALREADY_REGISTERED':
      return 'This security key is already registered.'
    case 'CEREMONY_EXPIRED':
      return 'The security key request expired before it finished. Try again to start a new one.'
    case 'CEREMONY_FAILED':
      return 'The security key check failed.'
    case 'POLICY_DENIED':
      return "Your organization's security policy does not allow this."
    case 'SSO_NOT_CONFIGURED':
      return 'Single sign-on is not set up for this organization yet. Use backup credentials or ask an admin.'
    case 'RATE_LIMITED':
      return retryAfterSeconds !== undefined
        ? `Too many attempts. Try again in ${formatWait(retryAfterSeconds)}.`
        : 'Too many attempts. Wait a moment and try again.'
    case 'SSO_ALREADY_LINKED':
      return 'That IdP account already belongs to another member.'
    case 'SSO_STATE_MISMATCH':
      return 'This sign-in was started in another browser or took too long. Start it again here.'
    case 'MEMBER_DEACTIVATED':
      return 'Your account in this organization is deactivated. Ask an admin.'
    case 'LAST_ACTIVE_ADMIN':
      return 'This is the last active admin of the organization. Make another member an admin first.'
    case 'UNSAFE_REDIRECT':
      return 'The identity provider returned an unsafe sign-in address.'
    case 'SERVICE_UNAVAILABLE':
      return 'Keyward cannot reach one of its services right now. Try again in a moment.'
    case 'INTERNAL':
      return 'Something went wrong on the server. Try again; if it keeps happening, tell an admin.'
    case 'NETWORK':
      return 'Keyward could not be reached. Check your connection and try again.'
    case 'WEBAUTHN_CANCELLED':
      return 'The security key request was cancelled or timed out.'
    case 'NO_SECURITY_KEY':
      return 'You have no security key to confirm this with; register one under Security keys, then try again.'
    case 'APPROVAL_EXPIRED':
      return 'This request expired before it was decided; it can no longer be approved. The pipeline must ask again.'
    case 'APPROVAL_NOT_PENDING':
      return 'This request has already been decided (or has expired): nothing more can be recorded on it.'
    case 'APPROVER_NOT_ELIGIBLE':
      return notEligibleMessage(undefined)
    case 'WEBAUTHN_UNSUPPORTED':
      return 'This browser cannot use security keys. Try a current version of Chrome, Firefox, Safari or Edge.'
    default:
      return 'Something went wrong. Try again.'
  }
}

/** The `error` code the SSO callback puts in `/login?error=CODE`. */
export function messageForSsoCallback(code: string): string {
  switch (code) {
    case 'CEREMONY_EXPIRED':
      return 'Single sign-on took too long or was already used. Start again.'
    case 'FORBIDDEN':
      return 'The identity provider refused the login, or your account may not use this organization.'
    case 'BAD_USER_INPUT':
      return 'The identity provider sent back an incomplete answer. Start again.'
    case 'UNAUTHENTICATED':
      return 'Single sign-on could not confirm who you are. Start again.'
    case 'MEMBER_DEACTIVATED':
    case 'SSO_STATE_MISMATCH':
      return messageForCode(code)
    default:
      return `Single sign-on did not complete. ${messageForCode(code)}`
  }
}

/** The `error` code the SSO link callback puts in `/org/sso?error=CODE`. */
export function messageForSsoLink(code: string): string {
  switch (code) {
    case 'SSO_ALREADY_LINKED':
    case 'SSO_STATE_MISMATCH':
      return messageForCode(code)
    case 'CEREMONY_EXPIRED':
      return 'Linking took too long or was already used. Start again.'
    case 'FORBIDDEN':
      return 'The identity provider refused, or that IdP account may not use this organization.'
    case 'POLICY_DENIED':
      return 'That IdP account is not in the admin group, so linking it would make you a member at your next SSO login. Link an account in the admin group.'
    case 'BAD_USER_INPUT':
    case 'UNAUTHENTICATED':
      return messageForSsoCallback(code)
    default:
      return `Your IdP account was not linked. ${messageForCode(code)}`
  }
}

function formatWait(seconds: number): string {
  if (seconds < 60) return `${Math.max(1, Math.ceil(seconds))} seconds`
  const minutes = Math.ceil(seconds / 60)
  return minutes === 1 ? '1 minute' : `${minutes} minutes`
}

/** The first `extensions.code` of a GraphQL error, `NETWORK` for transport errors. */
export function errorCode(error: CombinedError): string {
  for (const e of error.graphQLErrors) {
    const code = e.extensions?.code
    if (typeof code === 'string') return code
  }
  if (error.networkError) return 'NETWORK'
  return 'INTERNAL'
}

/** True when any GraphQL error carries `code`. */
export function hasCode(error: CombinedError | undefined, code: string): boolean {
  return !!error?.graphQLErrors.some((e) => e.extensions?.code === code)
}

/** The sentence for a failure that came without a GraphQL error (e.g. an empty answer). */
export function unexpectedError(): UiError {
  return { code: 'INTERNAL', message: messageForCode('INTERNAL') }
}

/** Turns a CombinedError into something to show. */
export function describeError(error: CombinedError): UiError {
  const code = errorCode(error)
  const first = error.graphQLErrors.find((e) => e.extensions?.code === code)
  const retry = first?.extensions?.retryAfterSeconds
  const ui: UiError = { code, message: messageForCode(code, typeof retry === 'number' ? retry : undefined) }
  if (first && USER_FACING_DETAIL.has(code) && first.message) ui.detail = first.message
  ui.technical = first?.message ? `${code}: ${first.message}` : error.networkError ? `NETWORK: ${error.networkError.message}` : code
  const action = first?.extensions?.action
  if (code === 'POLICY_DENIED' && typeof action === 'string') ui.stepUpAction = action
  const reason = first?.extensions?.reason
  if (code === 'APPROVER_NOT_ELIGIBLE') {
    ui.message = notEligibleMessage(reason)
    if (typeof reason === 'string') ui.reason = reason
  }
  return ui
}

/** The policy's reason quoted inside a sentence (without its own closing full stop), or nothing. */
function quotedReason(reason: string | undefined): string {
  const trimmed = (reason ?? '').trim().replace(/[.!]+$/, '')
  return trimmed ? ` (“${trimmed}”)` : ''
}

/**
 * A failure at the key step of a step-up, said in one sentence with what to do next (the dialog and the
 * /step-up page). `touchLabel` is the button that tries again.
 */
export function describeStepUpError(error: UiError, touchLabel: string): UiError {
  switch (error.code) {
    case 'CEREMONY_FAILED':
    case 'KEY_NOT_REGISTERED':
      return { code: error.code, message: `Your security key was not accepted; press “${touchLabel}” and use a key registered to your account.` }
    case 'CEREMONY_EXPIRED':
      return { code: error.code, message: `The request expired before your key answered; press “${touchLabel}” to start a new one.` }
    case 'WEBAUTHN_CANCELLED':
      return { code: error.code, message: `The security key request was cancelled or timed out; press “${touchLabel}” to try again.` }
    case 'POLICY_DENIED':
      return {
        code: error.code,
        message: `Your organization's policy does not allow this${quotedReason(error.detail)}; ask an admin if you need it.`,
      }
    default:
      return error
  }
}

/**
 * A failure at the key step of login, said in one sentence with what to do next (`who` is the member logging
 * in, by name); what the server or browser said stays in `technical`, for a disclosure.
 */
export function describeKeyStepError(error: UiError, who: string): UiError {
  const next = (message: string): UiError => ({ code: error.code, message, technical: error.technical ?? error.detail ?? error.code })
  switch (error.code) {
    case 'KEY_NOT_REGISTERED':
      return next(`That key isn't registered to ${who}. Try another key or use a recovery code.`)
    case 'CEREMONY_FAILED':
      return next(`Your security key was not accepted. Try again with a key registered to ${who}, or use a recovery code.`)
    case 'WEBAUTHN_CANCELLED':
      return next('Your security key did not answer in time, or the request was cancelled. Press Retry and touch your key, or use a recovery code.')
    case 'CEREMONY_EXPIRED':
      return next('The request expired before your key answered. Press Retry to start a new one.')
    default:
      return error
  }
}

/**
 * A failure while approving or rejecting a request, said with what to do next; `buttonLabel` is the button
 * that tries again ("Approve", "Reject").
 */
export function describeApprovalError(error: UiError, buttonLabel: string): UiError {
  switch (error.code) {
    case 'CEREMONY_FAILED':
    case 'KEY_NOT_REGISTERED':
      return {
        code: error.code,
        message: `Your security key was not accepted for this request; press “${buttonLabel}” and use a key registered to your account.`,
      }
    case 'CEREMONY_EXPIRED':
      return { code: error.code, message: `The request for your key expired before it answered; press “${buttonLabel}” to try again.` }
    case 'WEBAUTHN_CANCELLED':
      return { code: error.code, message: `The security key request was cancelled or timed out; press “${buttonLabel}” to try again.` }
    default:
      return error
  }
}

/** Errors after which deciding on the request again cannot help (the buttons stay off). */
export function isFinalApprovalError(error: UiError | null): boolean {
  return (
    error?.code === 'APPROVER_NOT_ELIGIBLE' ||
    error?.code === 'APPROVAL_EXPIRED' ||
    error?.code === 'APPROVAL_NOT_PENDING' ||
    error?.code === 'FORBIDDEN' ||
    error?.code === 'NO_SECURITY_KEY'
  )
}

/** Errors thrown by the browser's WebAuthn API (via @simplewebauthn/browser). */
export function describeWebauthnError(err: unknown): UiError {
  const name = err instanceof Error ? err.name : ''
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.name : ''
  const technical = err instanceof Error ? `${cause || name}: ${err.message}` : String(err)
  if (name === 'NotAllowedError' || cause === 'NotAllowedError' || name === 'AbortError') {
    return { code: 'WEBAUTHN_CANCELLED', message: messageForCode('WEBAUTHN_CANCELLED'), technical }
  }
  if (name === 'InvalidStateError' || cause === 'InvalidStateError') {
    return { code: 'KEY_ALREADY_REGISTERED', message: messageForCode('KEY_ALREADY_REGISTERED') }
  }
  if (name === 'NotSupportedError' || cause === 'NotSupportedError') {
    return { code: 'WEBAUTHN_UNSUPPORTED', message: messageForCode('WEBAUTHN_UNSUPPORTED') }
  }
  return {
    code: 'WEBAUTHN_ERROR',
    message: 'Your browser could not complete the security key request.',
    detail: err instanceof Error ? err.message : undefined,
  }
}

/** The server's message for a BAD_USER_INPUT on `field` (which its `extensions.field` names), or null. */
export function fieldError(error: CombinedError | null, field: string): string | null {
  const e = error?.graphQLErrors.find((g) => g.extensions?.code === 'BAD_USER_INPUT' && g.extensions?.field === field)
  if (!e) return null
  // The server prefixes the message with the field's name; the field's label already says it.
  const message = e.message.startsWith(`${field}: `) ? e.message.slice(field.length + 2) : e.message
  return message ? `${message.charAt(0).toUpperCase()}${message.slice(1)}.` : 'This value is not valid.'
}

/** A form's errors: the ones that belong under one of `fields`, and a general one for the rest. */
export interface FormErrors<F extends string> {
  fields: Partial<Record<F, string>>
  general: UiError | null
}

/** Splits `error` into messages under `fields` and, when something else went wrong, a general error. */
export function formErrors<F extends string>(error: CombinedError | null, fields: readonly F[]): FormErrors<F> {
  const result: FormErrors<F> = { fields: {}, general: null }
  if (!error) return result
  for (const field of fields) {
    const message = fieldError(error, field)
    if (message) result.fields[field] = message
  }
  const placed = error.graphQLErrors.every(
    (g) => g.extensions?.code === 'BAD_USER_INPUT' && fields.includes(g.extensions?.field as F),
  )
  if (!placed || error.graphQLErrors.length === 0) result.general = describeError(error)
  return result
}
