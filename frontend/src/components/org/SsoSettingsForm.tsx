import { useState } from 'react'
import { useClient } from 'urql'
import type { UiError } from '../../errors'
import { SsoConfigureDocument, SsoTestStartDocument, type SsoConfigureInput, type SsoFieldsFragment } from '../../gql/graphql'
import { useAction } from '../../operations'
import { goToIdentityProvider, rememberSsoTest, type SsoFormDraft } from '../../sso'
import { ErrorAlert } from '../ErrorAlert'
import { Field, SettingsForm, useSettingsForm } from '../Form'

const FIELDS = [
  'issuer',
  'clientId',
  'clientSecret',
  'scopes',
  'adminGroupClaim',
  'adminGroupValue',
  'allowedEmailDomains',
] as const
type FieldName = (typeof FIELDS)[number]
type Values = Record<FieldName, string>

const DEFAULT_SCOPES = 'email profile'

/** Each field's label (the e2e journeys find the fields by these), hint and input type. */
const CONTROLS: Record<FieldName, { label: string; hint?: string; type?: string; autoComplete?: string }> = {
  issuer: {
    label: 'Issuer URL',
    hint: 'E.g. https://login.example.com. Keyward loads its /.well-known/openid-configuration when you save.',
    type: 'url',
  },
  clientId: { label: 'Client ID' },
  clientSecret: {
    label: 'Client secret',
    hint: 'Keyward never shows the stored secret. Type a new one only to replace it.',
    type: 'password',
    autoComplete: 'new-password',
  },
  scopes: {
    label: 'Scopes',
    hint: `Space- or comma-separated; openid is always requested. Usually “${DEFAULT_SCOPES}”, plus “groups” if your IdP needs it for the group claim.`,
  },
  adminGroupClaim: {
    label: 'Admin group claim',
    hint: "The ID-token claim that lists a member's groups, e.g. groups. Optional.",
  },
  adminGroupValue: {
    label: 'Admin group value',
    hint: 'Members in this group become admins, the others members, at every login. Leave both empty to keep roles as they are.',
  },
  allowedEmailDomains: {
    label: 'Allowed e-mail domains',
    hint: 'Comma-separated, e.g. example.com, example.org. When set, only verified addresses in these domains may log in; leave empty to allow any.',
  },
}

/** The form's text for stored settings (or a draft kept over a test sign-in); the secret always starts empty. */
function valuesFrom(sso: SsoFieldsFragment | null, draft: SsoFormDraft | null = null): Values {
  const stored: Values = {
    issuer: sso?.issuer ?? '',
    clientId: sso?.clientId ?? '',
    clientSecret: '',
    scopes: sso ? sso.scopes.join(' ') : DEFAULT_SCOPES,
    adminGroupClaim: sso?.adminGroupClaim ?? '',
    adminGroupValue: sso?.adminGroupValue ?? '',
    allowedEmailDomains: sso?.allowedEmailDomains.join(', ') ?? '',
  }
  if (!draft) return stored
  const kept = Object.fromEntries(FIELDS.filter((f) => f !== 'clientSecret' && typeof draft[f] === 'string').map((f) => [f, draft[f]]))
  return { ...stored, ...kept }
}

/** "a, b c" → ["a", "b", "c"]. */
function splitList(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean)
}

/** The mistakes worth catching before asking the server (which checks all of them again). */
function problemsIn(values: Values, hasSecret: boolean): Partial<Record<FieldName, string>> {
  const problems: Partial<Record<FieldName, string>> = {}
  const issuer = values.issuer.trim()
  if (!issuer) problems.issuer = 'Enter the issuer URL of your identity provider.'
  else if (!/^https?:\/\/[^\s/]+/i.test(issuer)) problems.issuer = 'Enter a URL that starts with https://.'
  if (!values.clientId.trim()) problems.clientId = 'Enter the client ID.'
  if (!values.clientSecret && !hasSecret) problems.clientSecret = 'Enter the client secret.'
  if (!values.adminGroupClaim.trim() !== !values.adminGroupValue.trim()) {
    problems.adminGroupValue = 'Set both the admin group claim and its value, or neither.'
  }
  return problems
}

/** The API's input for the form; an empty secret is sent as null, which keeps the stored one. */
function inputOf(values: Values): SsoConfigureInput {
  return {
    issuer: values.issuer.trim(),
    clientId: values.clientId.trim(),
    clientSecret: values.clientSecret || null,
    scopes: splitList(values.scopes),
    adminGroupClaim: values.adminGroupClaim.trim() || null,
    adminGroupValue: values.adminGroupValue.trim() || null,
    allowedEmailDomains: splitList(values.allowedEmailDomains),
  }
}

/** A refusal of the settings themselves (not of a step-up): it is about the admin group, so it is shown there. */
function groupRefusal(error: UiError | null): UiError | null {
  return error?.code === 'POLICY_DENIED' && !error.stepUpAction ? error : null
}

interface SsoSettingsFormProps {
  sso: SsoFieldsFragment | null
  /** Unsaved values kept over a test sign-in, to start from instead of the stored ones. */
  draft?: SsoFormDraft | null
  onSaved: (sso: SsoFieldsFragment) => void
}

/** Creates or replaces the organization's OIDC settings, or tries them first with a test sign-in. */
export function SsoSettingsForm({ sso, draft = null, onSaved }: SsoSettingsFormProps) {
  const client = useClient()
  const form = useSettingsForm(FIELDS)
  const [values, setValues] = useState<Values>(() => valuesFrom(sso, draft))
  const test = useAction()
  const [testProblem, setTestProblem] = useState<UiError | null>(null)
  const [leaving, setLeaving] = useState(false)
  const hasSecret = sso?.hasClientSecret ?? false

  async function startTest() {
    setTestProblem(null)
    const problems = problemsIn(values, hasSecret)
    if (Object.keys(problems).length) return void form.submit(problems, () => Promise.reject(), '')
    const data = await test.run(() => client.mutation(SsoTestStartDocument, { input: inputOf(values) }).toPromise())
    if (!data) return
    rememberSsoTest(values)
    const refused = goToIdentityProvider(data.ssoTestStart.authorizationUrl)
    if (refused) setTestProblem(refused)
    else setLeaving(true)
  }

  async function save() {
    const input = inputOf(values)
    const data = await form.submit(
      problemsIn(values, hasSecret),
      () => client.mutation(SsoConfigureDocument, { input }).toPromise(),
      'SSO settings saved. New logins use them now.',
    )
    if (!data) return
    setValues(valuesFrom(data.ssoConfigure))
    onSaved(data.ssoConfigure)
  }

  const { errors } = form
  const busy = form.busy || test.busy || leaving
  const refusal = groupRefusal(form.general)
  const shownForm = refusal ? { ...form, general: null } : form
  const field = (name: FieldName) => {
    const { label, hint, type = 'text', autoComplete = 'off' } = CONTROLS[name]
    const keepSecret = name === 'clientSecret' && hasSecret
    return (
      <Field label={label} error={errors[name]} hint={hint}>
        {(control) => (
          <input
            {...control}
            type={type}
            placeholder={keepSecret ? 'stored — leave empty to keep' : undefined}
            value={values[name]}
            onChange={(e) => setValues((v) => ({ ...v, [name]: e.target.value }))}
            disabled={busy}
            autoComplete={autoComplete}
            spellCheck={false}
          />
        )}
      </Field>
    )
  }

  return (
    <SettingsForm form={shownForm} submitLabel="Save SSO settings" busyLabel="Checking the issuer and saving…" onSubmit={save}>
      {field('issuer')}
      <div className="field-pair">
        {field('clientId')}
        {field('clientSecret')}
      </div>
      {field('scopes')}
      <div className="field-pair">
        {field('adminGroupClaim')}
        {field('adminGroupValue')}
      </div>
      {refusal && (
        <div data-testid="sso-group-refusal">
          <ErrorAlert error={refusal}>
            <p>
              Use <strong>Test sign-in</strong> below with an admin&apos;s IdP account first: it records which admins the group
              keeps.
            </p>
          </ErrorAlert>
        </div>
      )}
      {field('allowedEmailDomains')}
      {splitList(values.allowedEmailDomains).length === 0 && (
        <p className="alert alert-warning" data-testid="sso-any-domain">
          No allowed domains: anyone with an account at your IdP can sign in and get a Keyward account.
        </p>
      )}
      <div className="sso-test-start subsection">
        <p>
          <strong>Try these settings before saving them.</strong> Test sign-in sends you to the identity provider with the
          values above and shows what Keyward would make of the account; nothing is saved.
        </p>
        <button type="button" onClick={() => void startTest()} disabled={busy}>
          {test.busy || leaving ? 'Opening your identity provider…' : 'Test sign-in'}
        </button>
        {(test.error ?? testProblem) && <ErrorAlert error={(test.error ?? testProblem)!} />}
      </div>
    </SettingsForm>
  )
}
