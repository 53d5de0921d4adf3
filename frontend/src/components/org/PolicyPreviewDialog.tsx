import type { WebauthnPolicyPreviewQuery } from '../../gql/graphql'
import { ConfirmActions, Dialog } from '../Dialog'

type Preview = WebauthnPolicyPreviewQuery['webauthnPolicyPreview']

/** The policy form's fields, as people read them. */
const FIELD_LABELS: Record<string, string> = {
  userVerification: 'User verification',
  attestation: 'Attestation',
  allowedAaguids: 'Allowed authenticator models',
  deniedAaguids: 'Denied authenticator models',
  deviceBoundOnly: 'Device-bound keys only',
  ceremonyTimeoutSeconds: 'Security key prompt timeout (seconds)',
  rejectCounterRegression: 'Refuse a key whose counter goes backwards',
}

const AAGUID_IN_TEXT = /[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}/gi

/** A stored or new value as text; an empty list reads "none", and known AAGUIDs get their model's name. */
export function shownValue(value: string, modelNames: ReadonlyMap<string, string>): string {
  if (value === '' || value === '[]') return 'none'
  return value.replace(AAGUID_IN_TEXT, (aaguid) => {
    const name = modelNames.get(aaguid.toLowerCase().replaceAll('-', ''))
    return name ? `${name} (${aaguid})` : aaguid
  })
}

/** What saving the WebAuthn policy would change and whom it would lock out; saving is refused when the server would. */
export function PolicyPreviewDialog({
  preview,
  modelNames,
  busy,
  onConfirm,
  onClose,
}: {
  preview: Preview
  /** Model names by AAGUID (lower case, no dashes). */
  modelNames: ReadonlyMap<string, string>
  busy: boolean
  onConfirm: () => void
  onClose: () => void
}) {
  const atRisk = preview.membersLeftWithoutKey
  return (
    <Dialog title="Save this WebAuthn policy?" onClose={onClose}>
      <div data-testid="policy-preview">
        <h3>What changes</h3>
        <table className="keys policy-changes" data-testid="policy-changes">
          <caption className="visually-hidden">Settings that change</caption>
          <thead>
            <tr>
              <th scope="col">Setting</th>
              <th scope="col">Now</th>
              <th scope="col">After saving</th>
            </tr>
          </thead>
          <tbody>
            {preview.changes.map((change) => (
              <tr key={change.field}>
                <th scope="row" data-label="Setting">
                  {FIELD_LABELS[change.field] ?? change.field}
                </th>
                <td data-label="Now">{shownValue(change.from, modelNames)}</td>
                <td data-label="After saving">{shownValue(change.to, modelNames)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <h3>Members left without an accepted key ({atRisk.length})</h3>
        {atRisk.length === 0 ? (
          <p className="muted" data-testid="policy-nobody-locked-out">
            Every member with keys keeps at least one the new policy accepts.
          </p>
        ) : (
          <>
            <p className="alert alert-warning">
              Every key these members have fails the new policy: they could not log in until they register another.
            </p>
            <ul className="plain-list scroll-list" data-testid="policy-at-risk" tabIndex={0} aria-label="Members left without an accepted key">
              {atRisk.map((row) => (
                <li key={row.member.id}>
                  <strong>{row.member.displayName || row.member.username}</strong>
                  {row.member.displayName && row.member.displayName !== row.member.username && (
                    <span className="muted"> ({row.member.username})</span>
                  )}
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
        {preview.refusal && (
          <p className="alert alert-error" role="alert" data-testid="policy-refusal" data-code="POLICY_DENIED">
            This policy cannot be saved: {preview.refusal}
          </p>
        )}
      </div>
      <ConfirmActions
        confirmLabel={atRisk.length ? `Save and lock out ${atRisk.length === 1 ? '1 member' : `${atRisk.length} members`}` : 'Save policy'}
        busyLabel="Saving…"
        busy={busy}
        disabled={!!preview.refusal}
        tone={atRisk.length ? 'danger' : 'primary'}
        onConfirm={onConfirm}
        onCancel={onClose}
      />
    </Dialog>
  )
}
