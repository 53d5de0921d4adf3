import {
  startAuthentication,
  startRegistration,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/browser'
import type { Client } from '@urql/core'
import { describeError, describeWebauthnError, messageForCode, type UiError } from './errors'
import {
  MfaLoginBeginDocument,
  MfaLoginFinishDocument,
  SecurityKeyRegistrationBeginDocument,
  SecurityKeyRegistrationFinishDocument,
  StepUpBeginDocument,
  StepUpFinishDocument,
  type LoginResultFragment,
  type SecurityKeyRegistrationFinishMutation,
  type StepUpFinishMutation,
} from './gql/graphql'

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: UiError }

/** Accepts the W3C options JSON, also when wrapped as `{ publicKey: ... }`. */
export function unwrapOptions<T>(options: unknown): T {
  if (options && typeof options === 'object' && 'publicKey' in options) {
    return (options as { publicKey: T }).publicKey
  }
  return options as T
}

/** The security-key step of login: begin, touch the key, finish. Each call is a new ceremony. */
export async function loginWithSecurityKey(client: Client): Promise<Outcome<LoginResultFragment>> {
  const begin = await client.mutation(MfaLoginBeginDocument, {}).toPromise()
  if (begin.error || !begin.data) return { ok: false, error: begin.error ? describeError(begin.error) : unknownError() }
  const { ceremonyId, options } = begin.data.mfaLoginBegin
  let response
  try {
    response = await startAuthentication({ optionsJSON: unwrapOptions<PublicKeyCredentialRequestOptionsJSON>(options) })
  } catch (err) {
    return { ok: false, error: describeWebauthnError(err) }
  }
  const finish = await client.mutation(MfaLoginFinishDocument, { ceremonyId, response }).toPromise()
  if (finish.error || !finish.data) return { ok: false, error: finish.error ? describeError(finish.error) : unknownError() }
  return { ok: true, value: finish.data.mfaLoginFinish }
}

export type RegisteredKey = SecurityKeyRegistrationFinishMutation['securityKeyRegistrationFinish']

/** Registers a new key called `name`: begin, create the credential, finish. */
export async function registerSecurityKey(client: Client, name: string): Promise<Outcome<RegisteredKey>> {
  const begin = await client.mutation(SecurityKeyRegistrationBeginDocument, { name }).toPromise()
  if (begin.error || !begin.data) return { ok: false, error: begin.error ? describeError(begin.error) : unknownError() }
  const { ceremonyId, options } = begin.data.securityKeyRegistrationBegin
  let response
  try {
    response = await startRegistration({ optionsJSON: unwrapOptions<PublicKeyCredentialCreationOptionsJSON>(options) })
  } catch (err) {
    return { ok: false, error: describeWebauthnError(err) }
  }
  const finish = await client.mutation(SecurityKeyRegistrationFinishDocument, { ceremonyId, response }).toPromise()
  if (finish.error || !finish.data) return { ok: false, error: finish.error ? describeError(finish.error) : unknownError() }
  return { ok: true, value: finish.data.securityKeyRegistrationFinish }
}

export type StepUpGrant = StepUpFinishMutation['stepUpFinish']['grant']

/** What a step-up asks the key for: an action, the resource it acts on, and a CLI hand-off it completes. */
export interface StepUpTarget {
  action: string
  resource?: string | null
  handoff?: string | null
}

/**
 * Step-up: begin (the server decides the challenge for `action` on `resource`), touch the key, finish. On
 * success the session holds a grant for the action (or the CLI hand-off gets it) and the cookie is rotated.
 */
export async function stepUpWithSecurityKey(client: Client, target: StepUpTarget): Promise<Outcome<StepUpGrant>> {
  const variables = { action: target.action, resource: target.resource ?? null, handoff: target.handoff ?? null }
  const begin = await client.mutation(StepUpBeginDocument, variables).toPromise()
  if (begin.error || !begin.data) {
    // The server refuses to begin for a member without a key (`field: session`): nothing to touch.
    const noKey = begin.error?.graphQLErrors.some((e) => e.extensions?.code === 'BAD_USER_INPUT' && e.extensions?.field === 'session')
    if (noKey) return { ok: false, error: { code: 'NO_SECURITY_KEY', message: messageForCode('NO_SECURITY_KEY') } }
    return { ok: false, error: begin.error ? describeError(begin.error) : unknownError() }
  }
  const { ceremonyId, options } = begin.data.stepUpBegin
  let response
  try {
    response = await startAuthentication({ optionsJSON: unwrapOptions<PublicKeyCredentialRequestOptionsJSON>(options) })
  } catch (err) {
    return { ok: false, error: describeWebauthnError(err) }
  }
  const finish = await client.mutation(StepUpFinishDocument, { ceremonyId, response }).toPromise()
  if (finish.error || !finish.data) return { ok: false, error: finish.error ? describeError(finish.error) : unknownError() }
  return { ok: true, value: finish.data.stepUpFinish.grant }
}

/** The sentence for an empty answer from the server. */
export function unknownError(): UiError {
  return { code: 'INTERNAL', message: 'The server sent an empty answer. Try again.' }
}
