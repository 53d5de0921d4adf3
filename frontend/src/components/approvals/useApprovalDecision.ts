import { useCallback, useEffect, useRef, useState } from 'react'
import { useClient } from 'urql'
import { decideWithSecurityKey, type ApprovalDecision } from '../../approvalCeremony'
import { describeApprovalError, type UiError } from '../../errors'
import type { ApprovalRequestDetailFieldsFragment } from '../../gql/graphql'

/** The buttons that start a decision, named in the error sentences ("press “Approve” to try again"). */
export const APPROVE_LABEL = 'Approve'
export const REJECT_LABEL = 'Reject with security key'

/** A decision on one request being made with a key touch: which one runs, and why the last one failed. */
export interface DecisionState {
  busy: ApprovalDecision['kind'] | null
  error: UiError | null
  /** Runs begin → key → finish (or reject); true once recorded. */
  decide: (decision: ApprovalDecision) => Promise<boolean>
  reset: () => void
}

export function useApprovalDecision(id: string, onDecided: (request: ApprovalRequestDetailFieldsFragment) => void): DecisionState {
  const client = useClient()
  const [busy, setBusy] = useState<DecisionState['busy']>(null)
  const [error, setError] = useState<UiError | null>(null)
  const mounted = useRef(true)
  useEffect(() => {
    mounted.current = true
    return () => {
      mounted.current = false
    }
  }, [])

  const decide = useCallback(
    async (decision: ApprovalDecision) => {
      setBusy(decision.kind)
      setError(null)
      const outcome = await decideWithSecurityKey(client, id, decision)
      if (!mounted.current) return outcome.ok
      setBusy(null)
      if (outcome.ok) onDecided(outcome.value)
      else setError(describeApprovalError(outcome.error, decision.kind === 'approve' ? APPROVE_LABEL : REJECT_LABEL))
      return outcome.ok
    },
    [client, id, onDecided],
  )
  const reset = useCallback(() => setError(null), [])
  return { busy, error, decide, reset }
}
