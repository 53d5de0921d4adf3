import { useCallback, useEffect, useState, type ReactNode } from 'react'
import { useClient } from 'urql'
import { describeError, fieldError, unexpectedError, type UiError } from '../../errors'
import {
  EnforcementPreviewDocument,
  MfaEnforcementSetDocument,
  type EnforcementPreviewQuery,
  type SessionsToEnd,
} from '../../gql/graphql'
import { plural } from '../../format'
import { useAction } from '../../operations'
import { Link } from '../../router'
import { ActionDialog, ConfirmActions, Dialog } from '../Dialog'
import { ErrorAlert } from '../ErrorAlert'
import { CheckboxField } from '../Form'
import { formatCount } from '../../rollout'
import { GRACE_DEFAULT_DAYS, GraceField, daysFromToday, graceDeadline, type Grace } from './GraceField'

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

/** Who enforcement would affect, as the server previews it. */
function PreviewLists({ preview, withGrace, keyless }: { preview: Preview; withGrace: boolean; keyless: boolean }) {
  const ending = keyless ? preview.keylessSessionsToEnd : preview.sessionsToEnd
  return (
    <>
      <p>
        Every member will need a security key to log in.{' '}
        <strong>
          {formatCount(ending)} {ending === 1 ? 'session' : 'sessions'} will end
        </strong>{' '}
        ({keyless ? 'the active sessions no security key has confirmed' : 'every active session except yours'}).
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
                — {plural(row.liveSessions, 'active session', 'active sessions')}
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
                <strong>{row.member.username}</strong> — {plural(row.liveSessions, 'active session', 'active sessions')}
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
  const [grace, setGrace] = useState<Grace>(() => ({ on: true, date: daysFromToday(GRACE_DEFAULT_DAYS) }))
  const [keyless, setKeyless] = useState(false)
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
    const deadline = graceDeadline(grace)
    if ('problem' in deadline) {
      setGraceProblem(deadline.problem)
      return
    }
    const endSessions: SessionsToEnd = keyless ? 'KEYLESS' : 'ALL'
    const input = { enabled: true, gracePeriodEndsAt: deadline.at, endSessions }
    const data = await run(() => client.mutation(MfaEnforcementSetDocument, { input }).toPromise())
    if (data) onDone(data.mfaEnforcementSet.revokedSessions, data.mfaEnforcementSet.membersWithoutKey)
  }

  const shownGraceProblem = graceProblem ?? serverGraceProblem
  const ending = preview ? (keyless ? preview.keylessSessionsToEnd : preview.sessionsToEnd) : 0
  const confirmLabel = preview
    ? ending === 0
      ? 'Enforce MFA (no session ends)'
      : `Enforce MFA and end ${formatCount(ending)} ${ending === 1 ? 'session' : 'sessions'}`
    : 'Enforce MFA'

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
          <PreviewLists preview={preview} withGrace={grace.on} keyless={keyless} />
          <CheckboxField
            label="Keep the sessions of members who already log in with a key (only keyless sessions end)"
            hint="Members mid-task with a key keep working; sessions that never touched a key end."
            checked={keyless}
            disabled={busy}
            onChange={setKeyless}
          />
          <GraceField
            grace={grace}
            onChange={(next) => {
              setGrace(next)
              setGraceProblem(null)
            }}
            error={shownGraceProblem}
            disabled={busy}
          />
        </div>
      )}
      {error && !serverGraceProblem && <OrgErrorAlert error={error} />}
      <ConfirmActions
        confirmLabel={confirmLabel}
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

/** `current` (an RFC 3339 end of grace) as the date input's value, or `GRACE_DEFAULT_DAYS` from today. */
function graceFrom(current: string | null): Grace {
  if (!current) return { on: false, date: daysFromToday(GRACE_DEFAULT_DAYS) }
  const date = new Date(current)
  const pad = (n: number) => String(n).padStart(2, '0')
  return { on: true, date: `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` }
}

/** Moves (or ends) the grace period while MFA stays enforced: an update, which ends no session. */
export function GraceUpdateDialog({
  current,
  onClose,
  onDone,
}: {
  current: string | null
  onClose: () => void
  onDone: (gracePeriodEndsAt: string | null) => void
}) {
  const client = useClient()
  const [grace, setGrace] = useState<Grace>(() => graceFrom(current))
  const [problem, setProblem] = useState<string | null>(null)
  const { busy, error, failure, run } = useAction()
  const serverProblem = fieldError(failure, 'gracePeriodEndsAt')

  async function confirm() {
    setProblem(null)
    const deadline = graceDeadline(grace)
    if ('problem' in deadline) {
      setProblem(deadline.problem)
      return
    }
    const input = { enabled: true, gracePeriodEndsAt: deadline.at }
    const data = await run(() => client.mutation(MfaEnforcementSetDocument, { input }).toPromise())
    if (data) onDone(data.mfaEnforcementSet.organization.gracePeriodEndsAt ?? null)
  }

  return (
    <Dialog title="Change the grace period" onClose={onClose}>
      <p>MFA stays enforced and no session ends: only the day members without a key must have registered one changes.</p>
      <GraceField
        grace={grace}
        onChange={(next) => {
          setGrace(next)
          setProblem(null)
        }}
        error={problem ?? serverProblem}
        disabled={busy}
        label="Members without a key have a grace period"
      />
      {error && !serverProblem && <OrgErrorAlert error={error} />}
      <ConfirmActions
        confirmLabel="Save the grace period"
        busyLabel="Saving…"
        busy={busy}
        tone="primary"
        onConfirm={confirm}
        onCancel={onClose}
      />
    </Dialog>
  )
}
