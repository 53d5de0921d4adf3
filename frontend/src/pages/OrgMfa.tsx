import { useCallback, useEffect, useId, useState, type ReactNode } from 'react'
import { useClient, useQuery } from 'urql'
import type { CombinedError } from '@urql/core'
import { describeError, messageForCode, type UiError } from '../errors'
import {
  EnforcementPreviewDocument,
  MfaEnforcementSetDocument,
  OrganizationMembersDocument,
  OrganizationMfaDocument,
  type EnforcementPreviewQuery,
  type OrganizationMembersQuery,
} from '../gql/graphql'
import { formatDateTime, formatRelative } from '../format'
import { Link } from '../router'
import { useSession } from '../session'
import { ConfirmActions, Dialog } from '../components/Dialog'
import { ErrorAlert } from '../components/ErrorAlert'
import { Time } from '../components/Time'

const PAGE_SIZE = 50
const GRACE_MAX_DAYS = 90

type MemberRow = OrganizationMembersQuery['organization']['members']['nodes'][number]
type Preview = EnforcementPreviewQuery['enforcementPreview']

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`
}

/** An error from the organization operations; POLICY_DENIED means the admin has no usable key yet. */
export function OrgErrorAlert({ error, children }: { error: UiError; children?: ReactNode }) {
  const shown: UiError =
    error.code === 'POLICY_DENIED'
      ? { code: error.code, message: 'You need a security key of your own before you can enforce MFA, or you would lock yourself out.' }
      : error
  return (
    <ErrorAlert error={shown}>
      {error.code === 'POLICY_DENIED' && (
        <p>
          <Link to="/settings/mfa">Register a security key</Link> that the organization&apos;s policy accepts, then try again.
        </p>
      )}
      {children}
    </ErrorAlert>
  )
}

/** Organization settings → MFA (admins only). */
export function OrgMfaPage() {
  const [status, setStatus] = useState('')
  // Bumped when enforcement changes, so the member list shows the sessions that ended.
  const [membersVersion, setMembersVersion] = useState(0)
  return (
    <main id="main" className="page" aria-labelledby="org-mfa-title">
      <p className="muted breadcrumb">Organization settings</p>
      <h1 id="org-mfa-title">Multi-factor authentication</h1>
      <p aria-live="polite" className="status alert alert-info" data-testid="org-status">
        {status}
      </p>
      <EnforcementCard
        onStatus={(text) => {
          setStatus(text)
          setMembersVersion((v) => v + 1)
        }}
      />
      <MembersCard version={membersVersion} />
    </main>
  )
}

function EnforcementCard({ onStatus }: { onStatus: (text: string) => void }) {
  const { refresh: refreshViewer } = useSession()
  const [{ data, fetching, error }, reexecute] = useQuery({ query: OrganizationMfaDocument, requestPolicy: 'cache-and-network' })
  const [dialog, setDialog] = useState<'enable' | 'disable' | null>(null)
  const reload = useCallback(() => reexecute({ requestPolicy: 'network-only' }), [reexecute])
  const org = data?.organization

  return (
    <section className="card" aria-labelledby="enforce-title">
      <h2 id="enforce-title">Enforcement</h2>
      {!org && fetching && <p className="muted">Loading the enforcement setting…</p>}
      {error && !org && (
        <ErrorAlert error={describeError(error)}>
          <button type="button" onClick={reload}>
            Retry
          </button>
        </ErrorAlert>
      )}
      {org && (
        <>
          <p data-testid="enforcement-state">
            {org.mfaEnforced ? (
              <>
                <strong>MFA is enforced.</strong> Every member must log in with a security key.
              </>
            ) : (
              <>
                <strong>MFA is not enforced.</strong> Members may log in without a security key.
              </>
            )}
          </p>
          {org.mfaEnforced && org.gracePeriodEndsAt && (
            <p data-testid="grace-deadline">
              Grace period: members without a key may keep working until{' '}
              <time dateTime={org.gracePeriodEndsAt}>{formatDateTime(org.gracePeriodEndsAt)}</time>{' '}
              <span className="muted">({formatRelative(org.gracePeriodEndsAt)})</span>.
            </p>
          )}
          {org.mfaEnforced && !org.gracePeriodEndsAt && <p className="muted">No grace period: keys are required now.</p>}
          <button
            type="button"
            className={org.mfaEnforced ? 'button-danger' : 'button-primary'}
            onClick={() => setDialog(org.mfaEnforced ? 'disable' : 'enable')}
          >
            {org.mfaEnforced ? 'Stop enforcing MFA…' : 'Enforce MFA…'}
          </button>
        </>
      )}
      {dialog === 'enable' && (
        <EnableDialog
          onClose={() => setDialog(null)}
          onDone={(revoked, withoutKey) => {
            setDialog(null)
            onStatus(
              `MFA is now enforced: ${plural(revoked, 'session', 'sessions')} ended, ${plural(withoutKey, 'member', 'members')} without a key.`,
            )
            reload()
            refreshViewer()
          }}
        />
      )}
      {dialog === 'disable' && (
        <DisableDialog
          onClose={() => setDialog(null)}
          onDone={() => {
            setDialog(null)
            onStatus('MFA is no longer enforced.')
            reload()
            refreshViewer()
          }}
        />
      )}
    </section>
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

/** The server's message for a BAD_USER_INPUT on `field`, when that is what went wrong. */
function fieldError(error: CombinedError, field: string): string | null {
  const e = error.graphQLErrors.find((g) => g.extensions?.code === 'BAD_USER_INPUT' && g.extensions?.field === field)
  if (!e) return null
  // The server prefixes the message with the field's name; the field's label already says it.
  const message = e.message.startsWith(`${field}: `) ? e.message.slice(field.length + 2) : e.message
  return message ? message.charAt(0).toUpperCase() + message.slice(1) + '.' : 'This value is not valid.'

}

function EnableDialog({ onClose, onDone }: { onClose: () => void; onDone: (revoked: number, withoutKey: number) => void }) {
  const client = useClient()
  const graceId = useId()
  const graceHintId = useId()
  const graceErrorId = useId()
  const [preview, setPreview] = useState<Preview | null>(null)
  const [previewError, setPreviewError] = useState<UiError | null>(null)
  const [loading, setLoading] = useState(true)
  const [grace, setGrace] = useState('')
  const [graceProblem, setGraceProblem] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<UiError | null>(null)

  const loadPreview = useCallback(async () => {
    setLoading(true)
    setPreviewError(null)
    const result = await client.query(EnforcementPreviewDocument, {}, { requestPolicy: 'network-only' }).toPromise()
    setLoading(false)
    if (result.error || !result.data) {
      setPreviewError(result.error ? describeError(result.error) : { code: 'INTERNAL', message: messageForCode('INTERNAL') })
      return
    }
    setPreview(result.data.enforcementPreview)
  }, [client])

  useEffect(() => {
    void loadPreview()
  }, [loadPreview])

  async function confirm() {
    setError(null)
    setGraceProblem(null)
    let gracePeriodEndsAt: string | null = null
    if (grace) {
      gracePeriodEndsAt = endOfDay(grace)
      if (!gracePeriodEndsAt) {
        setGraceProblem('Enter a valid date.')
        return
      }
    }
    setBusy(true)
    const result = await client.mutation(MfaEnforcementSetDocument, { input: { enabled: true, gracePeriodEndsAt } }).toPromise()
    setBusy(false)
    if (result.error || !result.data) {
      if (result.error) {
        const onField = fieldError(result.error, 'gracePeriodEndsAt')
        if (onField) setGraceProblem(onField)
        else setError(describeError(result.error))
      }
      return
    }
    const payload = result.data.mfaEnforcementSet
    onDone(payload.revokedSessions, payload.membersWithoutKey)
  }

  const today = new Date()
  const latest = new Date(today.getTime() + GRACE_MAX_DAYS * 24 * 3600 * 1000)

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
          <p>
            Every member will need a security key to log in. <strong>{plural(preview.sessionsToEnd, 'session', 'sessions')} will end</strong>{' '}
            (every live session except yours).
          </p>
          <h3>Members without a key ({preview.membersWithoutKey.length})</h3>
          {preview.membersWithoutKey.length === 0 ? (
            <p className="muted">Every member has a key.</p>
          ) : (
            <>
              <p>They must register a key at their next login{grace ? ' (or before the grace period ends)' : ''}.</p>
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
          <div className="field">
            <label htmlFor={graceId}>Grace period ends (optional)</label>
            <input
              id={graceId}
              type="date"
              value={grace}
              min={dateInputValue(today)}
              max={dateInputValue(latest)}
              onChange={(e) => {
                setGrace(e.target.value)
                setGraceProblem(null)
              }}
              aria-describedby={graceProblem ? `${graceErrorId} ${graceHintId}` : graceHintId}
              aria-invalid={graceProblem ? true : undefined}
              disabled={busy}
              className="input-date"
            />
            {graceProblem && (
              <p id={graceErrorId} className="field-error" role="alert" data-testid="grace-error">
                {graceProblem}
              </p>
            )}
            <p id={graceHintId} className="hint">
              Members without a key may keep working until the end of this day. Leave empty to require keys now. At most{' '}
              {GRACE_MAX_DAYS} days from today.
            </p>
          </div>
        </div>
      )}
      {error && <OrgErrorAlert error={error} />}
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

function DisableDialog({ onClose, onDone }: { onClose: () => void; onDone: () => void }) {
  const client = useClient()
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<UiError | null>(null)

  async function confirm() {
    setBusy(true)
    setError(null)
    const result = await client.mutation(MfaEnforcementSetDocument, { input: { enabled: false, gracePeriodEndsAt: null } }).toPromise()
    setBusy(false)
    if (result.error || !result.data) {
      if (result.error) setError(describeError(result.error))
      return
    }
    onDone()
  }

  return (
    <Dialog title="Stop enforcing MFA?" onClose={onClose}>
      <p>Members will be able to log in without a security key again. Members who have keys keep using them.</p>
      {error && <OrgErrorAlert error={error} />}
      <ConfirmActions
        confirmLabel="Stop enforcing"
        busyLabel="Saving…"
        busy={busy}
        tone="danger"
        onConfirm={confirm}
        onCancel={onClose}
      />
    </Dialog>
  )
}

function MembersCard({ version }: { version: number }) {
  const client = useClient()
  const filterId = useId()
  const [withoutKey, setWithoutKey] = useState(false)
  const [rows, setRows] = useState<MemberRow[] | null>(null)
  const [cursor, setCursor] = useState<string | null>(null)
  const [hasMore, setHasMore] = useState(false)
  const [loading, setLoading] = useState(false)
  const [error, setError] = useState<{ error: UiError; more: boolean } | null>(null)

  const load = useCallback(
    async (after: string | null, filter: boolean, signal: { cancelled: boolean }) => {
      setLoading(true)
      setError(null)
      const result = await client
        .query(OrganizationMembersDocument, { first: PAGE_SIZE, after, withoutKey: filter }, { requestPolicy: 'network-only' })
        .toPromise()
      if (signal.cancelled) return
      setLoading(false)
      if (result.error || !result.data) {
        setError({
          error: result.error ? describeError(result.error) : { code: 'INTERNAL', message: messageForCode('INTERNAL') },
          more: after !== null,
        })
        return
      }
      const page = result.data.organization.members
      setRows((previous) => (after && previous ? [...previous, ...page.nodes] : page.nodes))
      setCursor(page.pageInfo.endCursor ?? null)
      setHasMore(page.pageInfo.hasNextPage)
    },
    [client],
  )

  useEffect(() => {
    const signal = { cancelled: false }
    setRows(null)
    void load(null, withoutKey, signal)
    return () => {
      signal.cancelled = true
    }
  }, [load, withoutKey, version])

  return (
    <section className="card" aria-labelledby="members-title" aria-busy={loading}>
      <h2 id="members-title">Members</h2>
      <div className="checkbox">
        <input id={filterId} type="checkbox" checked={withoutKey} onChange={(e) => setWithoutKey(e.target.checked)} />
        <label htmlFor={filterId}>Only members without a key</label>
      </div>
      {rows === null && loading && <p className="muted">Loading members…</p>}
      {error && !error.more && (
        <ErrorAlert error={error.error}>
          <button type="button" onClick={() => void load(null, withoutKey, { cancelled: false })}>
            Retry
          </button>
        </ErrorAlert>
      )}
      {rows && rows.length === 0 && (
        <p data-testid="no-members">{withoutKey ? 'Every member has a security key.' : 'This organization has no members yet.'}</p>
      )}
      {rows && rows.length > 0 && (
        <table className="keys members" data-testid="members-table">
          <caption className="visually-hidden">
            {withoutKey ? 'Members without a security key' : 'Members of the organization'}
          </caption>
          <thead>
            <tr>
              <th scope="col">Member</th>
              <th scope="col">E-mail</th>
              <th scope="col">Role</th>
              <th scope="col">Keys</th>
              <th scope="col">Live sessions</th>
              <th scope="col">Last login</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.member.id}>
                <td data-label="Member">
                  <Link to={`/org/members/${encodeURIComponent(row.member.id)}`}>
                    <strong>{row.member.username}</strong>
                  </Link>
                  {row.member.displayName && row.member.displayName !== row.member.username && (
                    <div className="muted">{row.member.displayName}</div>
                  )}
                </td>
                <td data-label="E-mail">{row.member.email ?? <span className="muted">none</span>}</td>
                <td data-label="Role">{row.member.role === 'ADMIN' ? 'Admin' : 'Member'}</td>
                <td data-label="Keys">
                  {row.keyCount === 0 ? <span className="badge badge-warning">No key</span> : row.keyCount}
                </td>
                <td data-label="Live sessions">{row.liveSessions}</td>
                <td data-label="Last login">
                  {row.member.lastLoginAt ? <Time iso={row.member.lastLoginAt} /> : <span className="muted">never</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {error && error.more && (
        <ErrorAlert error={error.error}>
          <button type="button" onClick={() => void load(cursor, withoutKey, { cancelled: false })}>
            Retry
          </button>
        </ErrorAlert>
      )}
      {rows && hasMore && !(error && error.more) && (
        <button type="button" onClick={() => void load(cursor, withoutKey, { cancelled: false })} disabled={loading}>
          {loading ? 'Loading…' : 'Load more'}
        </button>
      )}
    </section>
  )
}
