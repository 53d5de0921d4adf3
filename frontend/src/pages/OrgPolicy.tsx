import { useState } from 'react'
import { useClient, useQuery } from 'urql'
import {
  OrganizationPolicyDocument,
  WebauthnPolicyUpdateDocument,
  type AttestationPreference,
  type UserVerification,
  type WebauthnPolicyFieldsFragment,
} from '../gql/graphql'
import { CheckboxField, Field, Select, SettingsForm, useSettingsForm } from '../components/Form'
import { LoadState } from '../components/Loading'
import { OrgPage } from '../components/OrgPage'
import { Link } from '../router'

const FIELDS = ['userVerification', 'attestation', 'allowedAaguids', 'deniedAaguids', 'ceremonyTimeoutSeconds'] as const
type FieldName = (typeof FIELDS)[number]

const TIMEOUT_MIN = 10
const TIMEOUT_MAX = 600
const AAGUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i

const USER_VERIFICATION: { value: UserVerification; label: string }[] = [
  { value: 'REQUIRED', label: 'Required: PIN or biometric every time' },
  { value: 'PREFERRED', label: 'Preferred: asked for, not enforced' },
  { value: 'DISCOURAGED', label: 'Discouraged: a touch is enough' },
]

const ATTESTATION: { value: AttestationPreference; label: string }[] = [
  { value: 'NONE', label: 'None: do not ask the key what it is' },
  { value: 'INDIRECT', label: 'Indirect: accept an anonymized statement' },
  { value: 'DIRECT', label: 'Direct: ask the key for its make and model' },
]

interface Values {
  userVerification: UserVerification
  attestation: AttestationPreference
  allowed: string
  denied: string
  deviceBoundOnly: boolean
  timeout: string
  rejectCounterRegression: boolean
}

function valuesFrom(policy: WebauthnPolicyFieldsFragment): Values {
  return {
    userVerification: policy.userVerification,
    attestation: policy.attestation,
    allowed: policy.allowedAaguids.join('\n'),
    denied: policy.deniedAaguids.join('\n'),
    deviceBoundOnly: policy.deviceBoundOnly,
    timeout: String(policy.ceremonyTimeoutSeconds),
    rejectCounterRegression: policy.rejectCounterRegression,
  }
}

/** One AAGUID a line; blank lines are ignored. */
function lines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
}

/** The first line that is not an AAGUID, said as a sentence, or null. */
function aaguidProblem(text: string): string | null {
  const bad = lines(text).find((line) => !AAGUID.test(line))
  return bad === undefined ? null : `“${bad}” is not an AAGUID (32 hexadecimal digits, e.g. cb69481e-8ff7-4039-93ec-0a2729a154a8).`
}

function problemsIn(values: Values): Partial<Record<FieldName, string>> {
  const problems: Partial<Record<FieldName, string>> = {}
  const allowedProblem = aaguidProblem(values.allowed)
  if (allowedProblem) problems.allowedAaguids = allowedProblem
  const deniedProblem = aaguidProblem(values.denied)
  if (deniedProblem) problems.deniedAaguids = deniedProblem
  const allowed = new Set(lines(values.allowed).map((l) => l.toLowerCase().replaceAll('-', '')))
  const both = lines(values.denied).find((l) => allowed.has(l.toLowerCase().replaceAll('-', '')))
  if (!deniedProblem && both) problems.deniedAaguids = `${both} is both allowed and denied.`
  const timeout = Number(values.timeout)
  if (!/^\d+$/.test(values.timeout.trim()) || timeout < TIMEOUT_MIN || timeout > TIMEOUT_MAX) {
    problems.ceremonyTimeoutSeconds = `Use a whole number of seconds from ${TIMEOUT_MIN} to ${TIMEOUT_MAX}.`
  }
  return problems
}

/** Edits the organization's WebAuthn policy. */
function PolicyForm({ policy }: { policy: WebauthnPolicyFieldsFragment }) {
  const client = useClient()
  const form = useSettingsForm(FIELDS)
  const [values, setValues] = useState<Values>(() => valuesFrom(policy))
  const { errors, busy } = form
  const update = (change: Partial<Values>) => setValues((v) => ({ ...v, ...change }))

  async function save() {
    const input = {
      userVerification: values.userVerification,
      attestation: values.attestation,
      allowedAaguids: lines(values.allowed),
      deniedAaguids: lines(values.denied),
      deviceBoundOnly: values.deviceBoundOnly,
      ceremonyTimeoutSeconds: Number(values.timeout),
      rejectCounterRegression: values.rejectCounterRegression,
    }
    const data = await form.submit(
      problemsIn(values),
      () => client.mutation(WebauthnPolicyUpdateDocument, { input }).toPromise(),
      'Policy saved. It applies from the next registration or login.',
    )
    if (data) setValues(valuesFrom(data.webauthnPolicyUpdate))
  }

  return (
    <SettingsForm form={form} submitLabel="Save policy" busyLabel="Saving…" onSubmit={save}>
      <div className="field-pair">
        <Field label="User verification" error={errors.userVerification} hint="Whether the key must check a PIN or fingerprint.">
          {(control) => (
            <Select
              control={control}
              options={USER_VERIFICATION}
              value={values.userVerification}
              disabled={busy}
              onChange={(userVerification) => update({ userVerification })}
            />
          )}
        </Field>
        <Field label="Attestation" error={errors.attestation} hint="Model lists work best with Direct: otherwise browsers may hide the model.">
          {(control) => (
            <Select
              control={control}
              options={ATTESTATION}
              value={values.attestation}
              disabled={busy}
              onChange={(attestation) => update({ attestation })}
            />
          )}
        </Field>
      </div>
      <div className="field-pair">
        {(
          [
            ['allowed', 'allowedAaguids', 'Allowed authenticator models', 'One AAGUID a line. When any are listed, only those models may be used.'],
            ['denied', 'deniedAaguids', 'Denied authenticator models', 'One AAGUID a line. These models may never be used.'],
          ] as const
        ).map(([key, field, label, hint]) => (
          <Field key={key} label={label} error={errors[field]} hint={hint}>
            {(control) => (
              <textarea
                {...control}
                rows={4}
                value={values[key]}
                disabled={busy}
                spellCheck={false}
                className="mono"
                onChange={(e) => update({ [key]: e.target.value })}
              />
            )}
          </Field>
        ))}
      </div>
      <CheckboxField
        label="Device-bound keys only"
        hint="Refuse synced passkeys (credentials that can be backed up to a cloud account)."
        checked={values.deviceBoundOnly}
        disabled={busy}
        onChange={(deviceBoundOnly) => update({ deviceBoundOnly })}
      />
      <CheckboxField
        label="Refuse a key whose signature counter goes backwards"
        hint="A counter that goes backwards can mean a cloned key. It is audited either way."
        checked={values.rejectCounterRegression}
        disabled={busy}
        onChange={(rejectCounterRegression) => update({ rejectCounterRegression })}
      />
      <Field
        label="Security key prompt timeout (seconds)"
        error={errors.ceremonyTimeoutSeconds}
        hint={`How long the browser waits for the key: ${TIMEOUT_MIN} to ${TIMEOUT_MAX} seconds.`}
      >
        {(control) => (
          <input
            {...control}
            type="number"
            inputMode="numeric"
            min={TIMEOUT_MIN}
            max={TIMEOUT_MAX}
            step={1}
            className="input-number"
            value={values.timeout}
            disabled={busy}
            onChange={(e) => update({ timeout: e.target.value })}
          />
        )}
      </Field>
    </SettingsForm>
  )
}

/** Organization settings → WebAuthn policy: which keys and ceremonies the organization accepts. */
export function OrgPolicyPage() {
  const [{ data, fetching, error }, reexecute] = useQuery({ query: OrganizationPolicyDocument, requestPolicy: 'cache-and-network' })
  // The form keeps what the admin typed: it starts from the stored policy once, when that has loaded.
  const policy = data?.organization.webauthnPolicy

  return (
    <OrgPage title="WebAuthn policy" busy={fetching && !policy}>
      <section className="card" aria-labelledby="policy-title">
        <h2 id="policy-title">Security keys this organization accepts</h2>
        <p>
          Keyward checks the result of every registration and every login against this policy, so a key registered earlier
          that the policy now refuses stops working at its next use. Before you enforce MFA, the preview on the{' '}
          <Link to="/org/mfa">MFA page</Link> lists the members whose keys the policy refuses.
        </p>
        {!policy && (
          <LoadState
            loading={fetching}
            loadingText="Loading the policy…"
            error={error}
            onRetry={() => reexecute({ requestPolicy: 'network-only' })}
          />
        )}
        {policy && <PolicyForm policy={policy} />}
      </section>
    </OrgPage>
  )
}
