import { useState } from 'react'
import { isFinalApprovalError } from '../../errors'
import { ConfirmActions, Dialog } from '../Dialog'
import { ErrorAlert } from '../ErrorAlert'
import { Field } from '../Form'
import { REJECT_LABEL, type DecisionState } from './useApprovalDecision'

/** The longest reason accepted here (a sentence or two, shown to the pipeline). */
export const REASON_MAX = 500

/** Asks why, then rejects the request with a key touch. */
export function RejectDialog({ decision, onClose }: { decision: DecisionState; onClose: () => void }) {
  const [reason, setReason] = useState('')
  const [problem, setProblem] = useState<string | null>(null)
  const busy = decision.busy === 'reject'

  async function confirm() {
    const trimmed = reason.trim()
    if (!trimmed) {
      setProblem('Say why you reject it: the pipeline shows this reason, and the audit log keeps it.')
      return
    }
    if (trimmed.length > REASON_MAX) {
      setProblem(`Keep the reason under ${REASON_MAX} characters.`)
      return
    }
    setProblem(null)
    if (await decision.decide({ kind: 'reject', reason: trimmed })) onClose()
  }

  return (
    <Dialog title="Reject this request?" onClose={onClose}>
      <p>
        The pipeline stops waiting and fails this run. Your security key signs the rejection of this exact request.
      </p>
      <Field label="Reason" hint="Shown to the pipeline and kept in the audit log." error={problem} announce>
        {(control) => (
          <textarea
            {...control}
            rows={3}
            value={reason}
            maxLength={REASON_MAX + 50}
            disabled={busy}
            data-autofocus
            onChange={(e) => {
              setReason(e.target.value)
              setProblem(null)
            }}
          />
        )}
      </Field>
      {decision.error && <ErrorAlert error={decision.error} />}
      <ConfirmActions
        confirmLabel={REJECT_LABEL}
        busyLabel="Waiting for your security key…"
        busy={busy}
        disabled={isFinalApprovalError(decision.error)}
        tone="danger"
        onConfirm={confirm}
        onCancel={onClose}
        focusCancel={false}
      />
    </Dialog>
  )
}
