import { useCallback, useEffect, useRef, useState } from 'react'
import { useClient } from 'urql'
import { describeStepUpError, type UiError } from '../errors'
import { formatDuration } from '../format'
import { useResourceName } from '../names'
import { setStepUpHandler, type StepUpRequest } from '../stepUp'
import { describeStepUp, namesResource } from '../stepUpWords'
import { stepUpWithSecurityKey, type StepUpTarget } from '../webauthn'
import { Dialog } from './Dialog'
import { ErrorAlert } from './ErrorAlert'

/** The button that starts a step-up, on the dialog and on the /step-up page. */
export const TOUCH_LABEL = 'Touch your security key'

/** The step-up ceremony's state: running, or why the last try failed. */
export interface StepUpCeremony {
  busy: boolean
  error: UiError | null
  /** Runs begin → key → finish; true once the grant is there. */
  touch: (target: StepUpTarget) => Promise<boolean>
}

export function useStepUpCeremony(): StepUpCeremony {
  const client = useClient()
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<UiError | null>(null)
  const mounted = useRef(true)
  useEffect(() => {
    mounted.current = true
    return () => {
      mounted.current = false
    }
  }, [])

  const touch = useCallback(
    async (target: StepUpTarget) => {
      setBusy(true)
      setError(null)
      const outcome = await stepUpWithSecurityKey(client, target)
      if (!mounted.current) return outcome.ok
      setBusy(false)
      if (!outcome.ok) setError(describeStepUpError(outcome.error, TOUCH_LABEL))
      return outcome.ok
    },
    [client],
  )
  return { busy, error, touch }
}

/** Errors after which touching the key again cannot help. */
export function isFinalStepUpError(error: UiError | null): boolean {
  return error?.code === 'POLICY_DENIED' || error?.code === 'FORBIDDEN' || error?.code === 'NO_SECURITY_KEY'
}

/** What the step-up is for, in words: "Delete security key ‘Desk key’", or the raw action when unknown. */
export function StepUpWhat({ action, resource }: { action: string; resource: string | null | undefined }) {
  const name = useResourceName(resource, namesResource(action))
  const words = describeStepUp(action, resource, name)
  if (words.known) return <strong>{words.sentence}</strong>
  return (
    <>
      <code className="step-up-action">{words.action}</code>
      {words.resource && (
        <>
          {' on '}
          <code className="step-up-action">{words.resource}</code>
        </>
      )}
    </>
  )
}

interface StepUpDialogProps {
  request: StepUpRequest
  /** True once the key was touched and the grant is held; false on Cancel. */
  onClose: (approved: boolean) => void
}

/** Asks for a key touch before the action a mutation was refused for; the mutation then runs again. */
export function StepUpDialog({ request, onClose }: StepUpDialogProps) {
  const { busy, error, touch } = useStepUpCeremony()
  const final = isFinalStepUpError(error)

  async function confirm() {
    if (await touch({ action: request.action, resource: request.resource })) onClose(true)
  }

  return (
    <Dialog title="Confirm with your security key" onClose={() => onClose(false)}>
      <p>This needs a fresh touch of your security key:</p>
      <p className="step-up-what" data-testid="step-up-what">
        <StepUpWhat action={request.action} resource={request.resource} />
      </p>
      {request.reason && (
        <p className="alert alert-info" data-testid="step-up-reason">
          Your organization&apos;s policy says: {request.reason}
        </p>
      )}
      {request.maxAgeSeconds !== null && (
        <p className="hint">
          Your last security key check is more than {formatDuration(request.maxAgeSeconds)} old. After the touch, the
          action runs as you asked; you do not need to enter anything again.
        </p>
      )}
      {error && <ErrorAlert error={error} />}
      <div className="row dialog-actions">
        <button type="button" className="button-primary" onClick={confirm} disabled={busy || final} data-autofocus>
          {busy ? 'Waiting for your security key…' : TOUCH_LABEL}
        </button>
        <button type="button" onClick={() => onClose(false)}>
          Cancel
        </button>
      </div>
    </Dialog>
  )
}

interface Pending {
  /** Tells one request from the next, so each gets a fresh dialog. */
  id: number
  request: StepUpRequest
  resolve: (approved: boolean) => void
}

/**
 * Shows the step-up dialog whenever a mutation anywhere in the app is answered with STEP_UP_REQUIRED (see
 * stepUp.ts), one at a time. Mount it once, while the user is logged in.
 */
export function StepUpHost() {
  const [pending, setPending] = useState<Pending | null>(null)
  const current = useRef<Pending | null>(null)
  useEffect(() => {
    current.current = pending
  }, [pending])

  useEffect(() => {
    let asked = 0
    const uninstall = setStepUpHandler(
      (request) => new Promise<boolean>((resolve) => setPending({ id: ++asked, request, resolve })),
    )
    return () => {
      uninstall()
      // Logged out or gone: the waiting mutation gets its original error back.
      current.current?.resolve(false)
    }
  }, [])

  if (!pending) return null
  return (
    <StepUpDialog
      key={pending.id}
      request={pending.request}
      onClose={(approved) => {
        pending.resolve(approved)
        setPending(null)
      }}
    />
  )
}
