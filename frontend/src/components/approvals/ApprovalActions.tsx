import { useState } from 'react'
import { blockedReasonText } from '../../approvalWords'
import { useNow } from '../../clock'
import { isFinalApprovalError, messageForCode } from '../../errors'
import type { ApprovalRequestDetailFieldsFragment, ApprovalRequestFieldsFragment } from '../../gql/graphql'
import { ErrorAlert } from '../ErrorAlert'
import { RejectDialog } from './RejectDialog'
import { APPROVE_LABEL, useApprovalDecision } from './useApprovalDecision'

interface ApprovalActionsProps {
  request: ApprovalRequestFieldsFragment
  /** The ID of what names the request (its heading), to tell one card's buttons from another's. */
  describedBy?: string
  /** The request as it is after the viewer's decision. */
  onDecided: (request: ApprovalRequestDetailFieldsFragment) => void
}

/**
 * Approve and Reject for a pending request, each with a key touch; or why the viewer cannot approve. Nothing
 * for a decided request.
 */
export function ApprovalActions({ request, describedBy, onDecided }: ApprovalActionsProps) {
  const decision = useApprovalDecision(request.id, onDecided)
  const [rejecting, setRejecting] = useState(false)
  const now = useNow()
  if (request.status !== 'PENDING') return null
  // The server marks it expired at its next look; nothing can be recorded on it from now on anyway.
  if (Date.parse(request.expiresAt) <= now) {
    return (
      <p className="alert alert-warning" data-testid="approval-expired">
        {messageForCode('APPROVAL_EXPIRED')}
      </p>
    )
  }
  if (!request.viewerMayApprove) {
    return (
      <p className="alert alert-info" data-testid="approval-blocked">
        {blockedReasonText(request.viewerBlockedReason)}
      </p>
    )
  }
  const final = isFinalApprovalError(decision.error)
  return (
    <div className="approval-actions" data-testid="approval-actions">
      {decision.error && !rejecting && <ErrorAlert error={decision.error} />}
      <div className="row">
        <button
          type="button"
          className="button-primary"
          aria-describedby={describedBy}
          disabled={decision.busy !== null || final}
          onClick={() => void decision.decide({ kind: 'approve' })}
        >
          {decision.busy === 'approve' ? 'Waiting for your security key…' : APPROVE_LABEL}
        </button>
        <button
          type="button"
          className="button-danger"
          aria-describedby={describedBy}
          disabled={decision.busy !== null || final}
          onClick={() => {
            decision.reset()
            setRejecting(true)
          }}
        >
          Reject
        </button>
      </div>
      <p className="hint">Your security key signs this exact request: any change to it would need a new approval.</p>
      {rejecting && (
        <RejectDialog
          decision={decision}
          onClose={() => {
            setRejecting(false)
            decision.reset()
          }}
        />
      )}
    </div>
  )
}
