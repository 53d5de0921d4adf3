import { useCallback, useEffect, useState, type ReactNode } from 'react'
import { useClient } from 'urql'
import { describeError, fieldError, unexpectedError, type UiError } from '../../errors'
import { EnforcementPreviewDocument, MfaEnforcementSetDocument, type EnforcementPreviewQuery } from '../../gql/graphql'
import { plural } from '../../format'
import { useAction } from '../../operations'
import { Link } from '../../router'
import { ActionDialog, ConfirmActions, Dialog } from '../Dialog'
import { ErrorAlert } from '../ErrorAlert'
import { Field } from '../Form'

const GRACE_MAX_DAYS = 90

type Preview = EnforcementPreviewQuery['enforcementPreview']

/** An error from the organization operations; POLICY_DENIED (not from step-up) means the admin has no usable key yet. */
export function OrgErrorAlert({ error, children }: { error: UiError; children?: ReactNode }) {
  // A refusal by the step-up policy is not about the admin's own key: it is shown as it came.
  const noKey = error.code === 'POLICY_DENIED' && !error.stepUpAction
  const shown: UiError = noKey
    ? { code: error.code, message: 'You need a security key of your own before you can enforce MFA, or you would lock yourself out.' }
    : error
  return (
    <ErrorAlert error={shown}>
      {noKey && (
        <p>
          <Link to="/settings/mfa">Register a security key</Link> that the organization&apos;s policy accepts, then try again.
        </p>
      )}
      {children}
    </ErrorAlert>
  )
}

/** `yyyy-mm-dd` for a local date. */
function dateInputValue(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`
}

/** The end of the chosen local day, as an RFC 3339 timestamp. */
function endOfDay(value: string): string | null {
  const date = new Date(`${value}T23:59:59`)
  return Number.isNaN(date.getTime()) ? null : date.toISOString()
}

/** Who enforcement would affect, as the server previews it. */
function PreviewLists({ preview, withGrace }: { preview: Preview; withGrace: boolean }) {
  return (
    <>
      <p>
        Every member will need a security key to log in. <strong>{plural(preview.sessionsToEnd, 'session', 'sessions')} will end</strong>{' '}
        (every live session except yours).
      </p>
      <h3>Members without a key ({preview.membersWithoutKey.length})</h3>
      {preview.membersWithoutKey.length === 0 ? (
        <p className="muted">Every member has a key.</p>
      ) : (
        <>
          <p>They must register a key at their next login{withGrace ? ' (or before the grace period ends)' : ''}.</p>
          <ul className="plain-list scroll-list" data-testid="preview-without-key" tabIndex={0} aria-label="Members without a key">
            {preview.membersWithoutKey.map((row) => (
              <li key={row.member.id}>
                <strong>{row.member.username}</strong>
                {row.member.displayName && row.member.displayName !== row.member.username && (
                  <span className="muted"> ({row.member.displayName})</span>
                )}{' '}
                — {plural(row.liveSessions, 'live session', 'live sessions')}
              </li>
            ))}
          </ul>
        </>
      )}
      <h3>Members whose keys the policy refuses ({preview.membersWithOnlyRefusedKeys.length})</h3>
      {preview.membersWithOnlyRefusedKeys.length === 0 ? (
        <p className="muted">No member is in this situation.</p>
      ) : (
        <>
          <p className="alert alert-warning">These members could not log in: every key they have fails the WebAuthn policy.</p>
          <ul className="plain-list scroll-list" data-testid="preview-refused" tabIndex={0} aria-label="Members whose keys the policy refuses">
            {preview.membersWithOnlyRefusedKeys.map((row) => (
              <li key={row.member.id}>
                <strong>{row.member.username}</strong> — {plural(row.liveSessions, 'live session', 'live sessions')}
                <ul>
                  {row.refusedKeys.map((refused) => (
                    <li key={refused.key.id}>
                      “{refused.key.name}”: {refused.reason}
                    </li>
                  ))}
                </ul>
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  )
}

/** Previews who enforcement affects, takes an optional grace period, then enforces MFA. */
export function EnableDialog({ onClose, onDone }: { onClose: () => void; onDone: (revoked: number, withoutKey: number) => void }) {
  const client = useClient()
  const [preview, setPreview] = useState<Preview | null>(null)
  const [previewError, setPreviewError] = useState<UiError | null>(null)
  const [loading, setLoading] = useState(true)
  const [grace, setGrace] = useState('')
  const [graceProblem, setGraceProblem] = useState<string | null>(null)
  const { busy, error, failure, run } = useAction()
  const serverGraceProblem = fieldError(failure, 'gracePeriodEndsAt')

  const loadPreview = useCallback(async () => {
    setLoading(true)
    setPreviewError(null)
    const result = await client.query(EnforcementPreviewDocument, {}, { requestPolicy: 'network-only' }).toPromise()
    setLoading(false)
    if (result.error || !result.data) {
      setPreviewError(result.error ? describeError(result.error) : unexpectedError())
      return
    }
    setPreview(result.data.enforcementPreview)
  }, [client])

  useEffect(() => {
    void loadPreview()
  }, [loadPreview])

  async function confirm() {
    setGraceProblem(null)
    let gracePeriodEndsAt: string | null = null
    if (grace) {
      gracePeriodEndsAt = endOfDay(grace)
      if (!gracePeriodEndsAt) {
        setGraceProblem('Enter a valid date.')
        return
      }
    }
    const data = await run(() => client.mutation(MfaEnforcementSetDocument, { input: { enabled: true, gracePeriodEndsAt } }).toPromise())
    if (data) onDone(data.mfaEnforcementSet.revokedSessions, data.mfaEnforcementSet.membersWithoutKey)
  }

  const today = new Date()
  const latest = new Date(today.getTime() + GRACE_MAX_DAYS * 24 * 3600 * 1000)
  const shownGraceProblem = graceProblem ?? serverGraceProblem

  return (
    <Dialog title="Enforce MFA?" onClose={onClose}>
      {loading && (
        <p className="muted" role="status">
          Checking who enforcement would affect…
        </p>
      )}
      {previewError && (
        <OrgErrorAlert error={previewError}>
          <button type="button" onClick={() => void loadPreview()}>
            Retry
          </button>
        </OrgErrorAlert>
      )}
      {preview && !loading && (
        <div data-testid="enforcement-preview">
          <PreviewLists preview={preview} withGrace={!!grace} />
          <Field
            label="Grace period ends (optional)"
            error={shownGraceProblem}
            announce
            hint={`Members without a key may keep working until the end of this day. Leave empty to require keys now. At most ${GRACE_MAX_DAYS} days from today.`}
          >
            {(control) => (
              <input
                {...control}
                type="date"
                value={grace}
                min={dateInputValue(today)}
                max={dateInputValue(latest)}
                onChange={(e) => {
                  setGrace(e.target.value)
                  setGraceProblem(null)
                }}
                disabled={busy}
                className="input-date"
                data-testid="grace-input"
              />
            )}
          </Field>
        </div>
      )}
      {error && !serverGraceProblem && <OrgErrorAlert error={error} />}
      <ConfirmActions
        confirmLabel="Enforce MFA"
        busyLabel="Enforcing…"
        busy={busy}
        disabled={!preview || loading}
        tone="primary"
        onConfirm={confirm}
        onCancel={onClose}
      />
    </Dialog>
  )
}

/** Turns enforcement off. */
export function DisableDialog({ onClose, onDone }: { onClose: () => void; onDone: () => void }) {
  const client = useClient()
  return (
    <ActionDialog
      title="Stop enforcing MFA?"
      confirmLabel="Stop enforcing"
      busyLabel="Saving…"
      tone="danger"
      action={() => client.mutation(MfaEnforcementSetDocument, { input: { enabled: false, gracePeriodEndsAt: null } }).toPromise()}
      onDone={onDone}
      onClose={onClose}
      renderError={(error) => <OrgErrorAlert error={error} />}
    >
      <p>Members will be able to log in without a security key again. Members who have keys keep using them.</p>
    </ActionDialog>
  )
}
