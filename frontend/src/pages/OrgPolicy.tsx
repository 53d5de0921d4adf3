import { useMemo, useState } from 'react'
import { useClient, useQuery } from 'urql'
import { unexpectedError, type UiError } from '../errors'
import {
  AuthenticatorModelsDocument,
  OrganizationPolicyDocument,
  WebauthnPolicyPreviewDocument,
  WebauthnPolicyUpdateDocument,
  type AttestationPreference,
  type UserVerification,
  type WebauthnPolicyFieldsFragment,
  type WebauthnPolicyInput,
  type WebauthnPolicyPreviewQuery,
} from '../gql/graphql'
import { CheckboxField, Field, Select, SettingsForm, useSettingsForm } from '../components/Form'
import { ErrorAlert } from '../components/ErrorAlert'
import { LoadState } from '../components/Loading'
import { OrgPage } from '../components/OrgPage'
import { AaguidPicker, aaguidKey } from '../components/org/AaguidPicker'
import { PolicyPreviewDialog } from '../components/org/PolicyPreviewDialog'
import { Link } from '../router'

const FIELDS = ['userVerification', 'attestation', 'allowedAaguids', 'deniedAaguids', 'ceremonyTimeoutSeconds'] as const
type FieldName = (typeof FIELDS)[number]

const TIMEOUT_MIN = 10
const TIMEOUT_MAX = 600

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
  allowed: string[]
  denied: string[]
  deviceBoundOnly: boolean
  timeout: string
  rejectCounterRegression: boolean
}

function valuesFrom(policy: WebauthnPolicyFieldsFragment): Values {
  return {
    userVerification: policy.userVerification,
    attestation: policy.attestation,
    allowed: policy.allowedAaguids,
    denied: policy.deniedAaguids,
    deviceBoundOnly: policy.deviceBoundOnly,
    timeout: String(policy.ceremonyTimeoutSeconds),
    rejectCounterRegression: policy.rejectCounterRegression,
  }
}

function problemsIn(values: Values): Partial<Record<FieldName, string>> {
  const problems: Partial<Record<FieldName, string>> = {}
  const allowed = new Set(values.allowed.map(aaguidKey))
  const both = values.denied.find((a) => allowed.has(aaguidKey(a)))
  if (both) problems.deniedAaguids = `${both} is both allowed and denied.`
  const timeout = Number(values.timeout)
  if (!/^\d+$/.test(values.timeout.trim()) || timeout < TIMEOUT_MIN || timeout > TIMEOUT_MAX) {
    problems.ceremonyTimeoutSeconds = `Use a whole number of seconds from ${TIMEOUT_MIN} to ${TIMEOUT_MAX}.`
  }
  return problems
}

/** Edits the organization's WebAuthn policy. */
function inputOf(values: Values): WebauthnPolicyInput {
  return {
    userVerification: values.userVerification,
    attestation: values.attestation,
    allowedAaguids: values.allowed,
    deniedAaguids: values.denied,
    deviceBoundOnly: values.deviceBoundOnly,
    ceremonyTimeoutSeconds: Number(values.timeout),
    rejectCounterRegression: values.rejectCounterRegression,
  }
}

type Preview = WebauthnPolicyPreviewQuery['webauthnPolicyPreview']

/** Edits the organization's WebAuthn policy; saving first previews what changes and whom it locks out. */
function PolicyForm({ policy }: { policy: WebauthnPolicyFieldsFragment }) {
  const client = useClient()
  const form = useSettingsForm(FIELDS)
  const [values, setValues] = useState<Values>(() => valuesFrom(policy))
  const [{ data: modelData }] = useQuery({ query: AuthenticatorModelsDocument })
  const models = useMemo(() => modelData?.authenticatorModels ?? [], [modelData])
  const modelNames = useMemo(() => new Map(models.map((m) => [aaguidKey(m.aaguid), m.name])), [models])
  const [previewing, setPreviewing] = useState(false)
  const [preview, setPreview] = useState<{ input: WebauthnPolicyInput; preview: Preview } | null>(null)
  const [previewError, setPreviewError] = useState<UiError | null>(null)
  const { errors } = form
  const busy = form.busy || previewing
  const update = (change: Partial<Values>) => setValues((v) => ({ ...v, ...change }))

  async function save() {
    setPreviewError(null)
    const problems = problemsIn(values)
    // Problems are shown by the form (it runs nothing while there are any).
    if (Object.keys(problems).length) return void form.submit(problems, () => Promise.reject(), '')
    const input = inputOf(values)
    setPreviewing(true)
    const result = await client.query(WebauthnPolicyPreviewDocument, { input }, { requestPolicy: 'network-only' }).toPromise()
    setPreviewing(false)
    if (result.error) {
      // The preview checks the input as the save would: its field errors go under the fields.
      await form.submit({}, () => Promise.resolve(result), '')
      return
    }
    if (!result.data) {
      setPreviewError(unexpectedError())
      return
    }
    const found = result.data.webauthnPolicyPreview
    if (found.changes.length === 0 && !found.refusal) {
      setPreviewError(null)
      await store(input, 'Nothing changed: the policy is as it was.')
      return
    }
    setPreview({ input, preview: found })
  }

  async function store(input: WebauthnPolicyInput, message = 'Policy saved. It applies from the next registration or login.') {
    setPreview(null)
    const data = await form.submit({}, () => client.mutation(WebauthnPolicyUpdateDocument, { input }).toPromise(), message)
    if (data) setValues(valuesFrom(data.webauthnPolicyUpdate))
  }

  return (
    <SettingsForm form={form} submitLabel={previewing ? 'Checking who it affects…' : 'Save policy…'} busyLabel="Saving…" onSubmit={save}>
      {previewError && <ErrorAlert error={previewError} />}
      {preview && (
        <PolicyPreviewDialog
          preview={preview.preview}
          modelNames={modelNames}
          busy={form.busy}
          onConfirm={() => void store(preview.input)}
          onClose={() => setPreview(null)}
        />
      )}
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
        <AaguidPicker
          label="Allowed authenticator models"
          hint="When any are chosen, only those models may be used (their attestation must prove the model)."
          models={models}
          value={values.allowed}
          onChange={(allowed) => update({ allowed })}
          error={errors.allowedAaguids}
          disabled={busy}
        />
        <AaguidPicker
          label="Denied authenticator models"
          hint="These models may never be used."
          models={models}
          value={values.denied}
          onChange={(denied) => update({ denied })}
          error={errors.deniedAaguids}
          disabled={busy}
        />
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
