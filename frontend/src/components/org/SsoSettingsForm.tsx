import { useState } from 'react'
import { useClient } from 'urql'
import { SsoConfigureDocument, type SsoFieldsFragment } from '../../gql/graphql'
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
    hint: 'Required every time you save: Keyward never shows the stored secret, so enter it again to change any setting.',
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

/** The form's text for stored settings; the secret is never returned, so it always starts empty. */
function valuesFrom(sso: SsoFieldsFragment | null): Values {
  return {
    issuer: sso?.issuer ?? '',
    clientId: sso?.clientId ?? '',
    clientSecret: '',
    scopes: sso ? sso.scopes.join(' ') : DEFAULT_SCOPES,
    adminGroupClaim: sso?.adminGroupClaim ?? '',
    adminGroupValue: sso?.adminGroupValue ?? '',
    allowedEmailDomains: sso?.allowedEmailDomains.join(', ') ?? '',
  }
}

/** "a, b c" → ["a", "b", "c"]. */
function splitList(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean)
}

/** The mistakes worth catching before asking the server (which checks all of them again). */
function problemsIn(values: Values): Partial<Record<FieldName, string>> {
  const problems: Partial<Record<FieldName, string>> = {}
  const issuer = values.issuer.trim()
  if (!issuer) problems.issuer = 'Enter the issuer URL of your identity provider.'
  else if (!/^https?:\/\/[^\s/]+/i.test(issuer)) problems.issuer = 'Enter a URL that starts with https://.'
  if (!values.clientId.trim()) problems.clientId = 'Enter the client ID.'
  if (!values.clientSecret) problems.clientSecret = 'Enter the client secret (it is required every time you save).'
  if (!values.adminGroupClaim.trim() !== !values.adminGroupValue.trim()) {
    problems.adminGroupValue = 'Set both the admin group claim and its value, or neither.'
  }
  return problems
}

/** Creates or replaces the organization's OIDC settings; `onSaved` gets the stored result. */
export function SsoSettingsForm({ sso, onSaved }: { sso: SsoFieldsFragment | null; onSaved: (sso: SsoFieldsFragment) => void }) {
  const client = useClient()
  const form = useSettingsForm(FIELDS)
  const [values, setValues] = useState<Values>(() => valuesFrom(sso))

  async function save() {
    const input = {
      issuer: values.issuer.trim(),
      clientId: values.clientId.trim(),
      clientSecret: values.clientSecret,
      scopes: splitList(values.scopes),
      adminGroupClaim: values.adminGroupClaim.trim() || null,
      adminGroupValue: values.adminGroupValue.trim() || null,
      allowedEmailDomains: splitList(values.allowedEmailDomains),
    }
    const data = await form.submit(
      problemsIn(values),
      () => client.mutation(SsoConfigureDocument, { input }).toPromise(),
      'SSO settings saved. New logins use them now.',
    )
    if (!data) return
    setValues(valuesFrom(data.ssoConfigure))
    onSaved(data.ssoConfigure)
  }

  const { errors, busy } = form
  const field = (name: FieldName) => {
    const { label, hint, type = 'text', autoComplete = 'off' } = CONTROLS[name]
    return (
      <Field label={label} error={errors[name]} hint={hint}>
        {(control) => (
          <input
            {...control}
            type={type}
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
    <SettingsForm form={form} submitLabel="Save SSO settings" busyLabel="Checking the issuer and saving…" onSubmit={save}>
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
      {field('allowedEmailDomains')}
    </SettingsForm>
  )
}
