// Approving or rejecting a pipeline's request: begin (the server's challenge is SHA-256 of the request's
// digest and a nonce, so the key signs exactly this request), touch the key, then finish or reject.
import { startAuthentication, type PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/browser'
import type { Client } from '@urql/core'
import { describeError, describeWebauthnError, messageForCode } from './errors'
import {
  ApprovalBeginDocument,
  ApprovalFinishDocument,
  ApprovalRejectDocument,
  type ApprovalRequestDetailFieldsFragment,
} from './gql/graphql'
import { unknownError, unwrapOptions, type Outcome } from './webauthn'

/** What the approver decides: approve, or reject with a reason. */
export type ApprovalDecision = { kind: 'approve' } | { kind: 'reject'; reason: string }

/** Records the viewer's decision on request `id` with a key touch; resolves to the request as it now is. */
export async function decideWithSecurityKey(
  client: Client,
  id: string,
  decision: ApprovalDecision,
): Promise<Outcome<ApprovalRequestDetailFieldsFragment>> {
  const begin = await client.mutation(ApprovalBeginDocument, { id }).toPromise()
  if (begin.error || !begin.data) {
    // Like step-up, a member without a key has nothing to touch (`field: session`).
    const noKey = begin.error?.graphQLErrors.some((e) => e.extensions?.code === 'BAD_USER_INPUT' && e.extensions?.field === 'session')
    if (noKey) return { ok: false, error: { code: 'NO_SECURITY_KEY', message: messageForCode('NO_SECURITY_KEY') } }
    return { ok: false, error: begin.error ? describeError(begin.error) : unknownError() }
  }
  const { ceremonyId, options } = begin.data.approvalBegin
  let response
  try {
    response = await startAuthentication({ optionsJSON: unwrapOptions<PublicKeyCredentialRequestOptionsJSON>(options) })
  } catch (err) {
    return { ok: false, error: describeWebauthnError(err) }
  }
  if (decision.kind === 'approve') {
    const finish = await client.mutation(ApprovalFinishDocument, { id, ceremonyId, response }).toPromise()
    if (finish.error || !finish.data) return { ok: false, error: finish.error ? describeError(finish.error) : unknownError() }
    return { ok: true, value: finish.data.approvalFinish }
  }
  const reject = await client.mutation(ApprovalRejectDocument, { id, ceremonyId, response, reason: decision.reason }).toPromise()
  if (reject.error || !reject.data) return { ok: false, error: reject.error ? describeError(reject.error) : unknownError() }
  return { ok: true, value: reject.data.approvalReject }
}
