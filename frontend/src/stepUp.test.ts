import { describe, expect, it } from 'vitest'
import { isRetriableMutation, stepUpRequirement } from './stepUp'

const body = (operationName: string, query: string) => JSON.stringify({ operationName, query, variables: {} })

describe('which mutations step-up sends again', () => {
  it('retries admin mutations such as creating an API key or saving the approval policy', () => {
    expect(isRetriableMutation(body('ApiKeyCreate', 'mutation ApiKeyCreate($input: ApiKeyCreateInput!) { apiKeyCreate(input: $input) { secret } }'))).toBe(true)
    expect(isRetriableMutation(body('ApprovalPolicySet', 'mutation ApprovalPolicySet($rego: String!) { approvalPolicySet(rego: $rego) { version } }'))).toBe(true)
  })

  it('never resends a spent approval assertion, nor the step-up ceremony, nor a query', () => {
    expect(isRetriableMutation(body('ApprovalFinish', 'mutation ApprovalFinish { approvalFinish(id: "1", ceremonyId: "c", response: {}) { id } }'))).toBe(false)
    expect(isRetriableMutation(body('ApprovalReject', 'mutation ApprovalReject { approvalReject(id: "1", ceremonyId: "c", response: {}, reason: "no") { id } }'))).toBe(false)
    expect(isRetriableMutation(body('StepUpFinish', 'mutation StepUpFinish { stepUpFinish(ceremonyId: "c", response: {}) { grant { action } } }'))).toBe(false)
    expect(isRetriableMutation(body('ApiKeys', 'query ApiKeys { apiKeys { id } }'))).toBe(false)
  })

  it('reads what the step-up asks for from the error extensions', () => {
    const answer = { errors: [{ message: 'x', extensions: { code: 'STEP_UP_REQUIRED', action: 'api_key.create', maxAgeSeconds: 300 } }] }
    expect(stepUpRequirement(answer)).toEqual({ action: 'api_key.create', resource: null, maxAgeSeconds: 300, reason: null })
    expect(stepUpRequirement({ errors: [{ extensions: { code: 'FORBIDDEN' } }] })).toBeNull()
  })
})
