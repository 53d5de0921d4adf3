// API keys in words and the create form's checks: pure, unit-tested in apiKeys.test.ts.
import type { ApiKeyScope } from './gql/graphql'

/** The scopes, in the order the form offers them, with their names in the docs and what they allow. */
export const SCOPES: readonly { value: ApiKeyScope; name: string; description: string }[] = [
  {
    value: 'APPROVALS_REQUEST',
    name: 'approvals:request',
    description: 'Ask for approvals (a pipeline) and follow the requests this key made.',
  },
  { value: 'ORG_READ', name: 'org:read', description: "Read the organization's settings and logs, for scripts and dashboards." },
]

/** A scope's documented name (`approvals:request`), or the enum value for one this SPA does not know. */
export function scopeName(scope: string): string {
  return SCOPES.find((s) => s.value === scope)?.name ?? scope
}

/** The longest key name accepted. */
export const API_KEY_NAME_MAX = 64

/** What an API key's row says of it: revoked, expired, or active. */
export function apiKeyState(key: { active: boolean; revokedAt?: string | null; expiresAt?: string | null }, now: number): 'revoked' | 'expired' | 'active' {
  if (key.revokedAt) return 'revoked'
  if (key.expiresAt && Date.parse(key.expiresAt) <= now) return 'expired'
  return key.active ? 'active' : 'expired'
}

/**
 * The `expiresAt` for a date picked in the form (`YYYY-MM-DD`): the end of that day in the viewer's time zone,
 * so "expires on 1 March" still works all of 1 March. Null for no date.
 */
export function expiryFromDate(date: string): string | null {
  if (!date) return null
  const end = new Date(`${date}T23:59:59`)
  return Number.isNaN(end.getTime()) ? null : end.toISOString()
}

/** The create form's values. */
export interface ApiKeyForm {
  name: string
  scopes: readonly string[]
  /** `YYYY-MM-DD`, or empty for a key that does not expire. */
  expiry: string
}

/** What is wrong with the form, by field; empty when it can be sent. */
export function apiKeyProblems(form: ApiKeyForm, now: number): Partial<Record<'name' | 'scopes' | 'expiresAt', string>> {
  const problems: Partial<Record<'name' | 'scopes' | 'expiresAt', string>> = {}
  const name = form.name.trim()
  if (!name) problems.name = 'Give the key a name that says where it is used (e.g. “GitHub Actions, billing-api”).'
  else if (name.length > API_KEY_NAME_MAX) problems.name = `Keep the name under ${API_KEY_NAME_MAX + 1} characters.`
  if (form.scopes.length === 0) problems.scopes = 'Choose at least one scope.'
  if (form.expiry) {
    const expiresAt = expiryFromDate(form.expiry)
    if (!expiresAt) problems.expiresAt = 'Enter a date, or leave it empty for a key that does not expire.'
    else if (Date.parse(expiresAt) <= now) problems.expiresAt = 'Choose a date from today on.'
  }
  return problems
}
