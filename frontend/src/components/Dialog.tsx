import { useEffect, useId, useRef, type ReactNode } from 'react'
import type { OperationResult } from '@urql/core'
import type { UiError } from '../errors'
import { useAction } from '../operations'
import { ErrorAlert } from './ErrorAlert'

interface DialogProps {
  title: string
  onClose: () => void
  children: ReactNode
}

/** A modal dialog on the native `<dialog>` (focus trap, Escape to close, inert background). */
export function Dialog({ title, onClose, children }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null)
  const titleId = useId()
  useEffect(() => {
    const dialog = ref.current
    if (dialog && !dialog.open) dialog.showModal()
    // Start on the safe choice when the dialog names one (e.g. Cancel before a deletion).
    dialog?.querySelector<HTMLElement>('[data-autofocus]')?.focus()
    return () => dialog?.close()
  }, [])
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault()
        onClose()
      }}
    >
      <h2 id={titleId}>{title}</h2>
      {children}
    </dialog>
  )
}

interface ConfirmActionsProps {
  /** The confirming button's label, and its label while the action runs. */
  confirmLabel: string
  busyLabel: string
  busy: boolean
  /** Keeps the confirming button disabled (e.g. until a preview has loaded). */
  disabled?: boolean
  tone: 'danger' | 'primary'
  onConfirm: () => void
  onCancel: () => void
  /** Start keyboard focus on Cancel, the safe choice (default). */
  focusCancel?: boolean
}

/** A dialog's confirm and Cancel buttons. */
export function ConfirmActions({ confirmLabel, busyLabel, busy, disabled, tone, onConfirm, onCancel, focusCancel = true }: ConfirmActionsProps) {
  return (
    <div className="row dialog-actions">
      <button type="button" className={`button-${tone}`} onClick={onConfirm} disabled={busy || disabled}>
        {busy ? busyLabel : confirmLabel}
      </button>
      <button type="button" onClick={onCancel} data-autofocus={focusCancel ? true : undefined}>
        Cancel
      </button>
    </div>
  )
}

interface ActionDialogProps<T> {
  title: string
  /** What will happen, in a sentence or two. */
  children: ReactNode
  confirmLabel: string
  busyLabel: string
  tone: 'danger' | 'primary'
  /** Starts the action (a mutation). */
  action: () => Promise<OperationResult<T>>
  /** Gets the action's data once it has succeeded. */
  onDone: (data: T) => void
  onClose: () => void
  /** Shows an error its own way (default: ErrorAlert). */
  renderError?: (error: UiError) => ReactNode
  /** Keeps the confirm button disabled after an error that trying again cannot fix. */
  final?: (error: UiError) => boolean
  focusCancel?: boolean
}

/** A dialog that asks before one action, runs it, and shows why it failed if it does. */
export function ActionDialog<T>({
  title,
  children,
  confirmLabel,
  busyLabel,
  tone,
  action,
  onDone,
  onClose,
  renderError = (error) => <ErrorAlert error={error} />,
  final,
  focusCancel,
}: ActionDialogProps<T>) {
  const { busy, error, run } = useAction()

  async function confirm() {
    const data = await run(action)
    if (data) onDone(data)
  }

  return (
    <Dialog title={title} onClose={onClose}>
      {children}
      {error && renderError(error)}
      <ConfirmActions
        confirmLabel={confirmLabel}
        busyLabel={busyLabel}
        busy={busy}
        disabled={!!error && !!final?.(error)}
        tone={tone}
        onConfirm={confirm}
        onCancel={onClose}
        focusCancel={focusCancel}
      />
    </Dialog>
  )
}
