// What a step-up asks for, in words: the gate table's action IDs (contract: crates/gateway/src/graphql/gates.rs)
// as sentences naming the resource, and the checks on the /step-up page's `return` address.

/** A resource as the gate table writes it: `type:id` (e.g. `security_key:…`, `member:…`, `org:…`). */
export interface ResourceRef {
  type: string
  id: string
}

/** Splits `type:id`; null for no resource or one without a type. */
export function parseResource(resource: string | null | undefined): ResourceRef | null {
  if (!resource) return null
  const colon = resource.indexOf(':')
  if (colon <= 0 || colon === resource.length - 1) return null
  return { type: resource.slice(0, colon), id: resource.slice(colon + 1) }
}

/** A sentence for an action, given the resource's display name (or, unresolved, its ID). */
type Phrase = (name: string | null) => string

const quoted = (name: string | null) => (name ? ` ‘${name}’` : '')

const ACTIONS: Record<string, Phrase> = {
  'security_key.delete': (name) => `Delete security key${quoted(name)}`,
  'security_key.rename': (name) => `Rename security key${quoted(name)}`,
  'recovery_codes.generate': () => 'Generate new recovery codes',
  'sso.link': () => 'Link your IdP account',
  'member.security_key.delete': (name) => `Delete a member's security key${quoted(name)}`,
  'member.sessions.revoke': (name) => `End every session of${name ? quoted(name) : ' a member'}`,
  'member.deactivate': (name) => `Deactivate${name ? quoted(name) : ' a member'}`,
  'member.reactivate': (name) => `Reactivate${name ? quoted(name) : ' a member'}`,
  'org.mfa_enforcement.set': () => 'Enforce MFA for the organization',
  'org.sso.configure': () => "Change the organization's single sign-on settings",
  'org.webauthn_policy.set': () => "Change the organization's WebAuthn policy",
  'org.step_up_policy.set': () => "Change the organization's step-up policy",
  'backup_credentials.rotate': () => "Rotate the organization's backup credentials",
  'org.approval_policy.set': () => "Change the organization's approval policy",
  'api_key.create': () => 'Create an API key',
  'api_key.revoke': (name) => `Revoke API key${quoted(name)}`,
  'org.webhook.set': () => "Change the organization's webhook",
  'cli.login': () => 'Log in to the Keyward command-line tool',
}

/** What a step-up is for: a sentence for the actions Keyward knows, the raw action and resource otherwise. */
export type StepUpWords = { known: true; sentence: string } | { known: false; action: string; resource: string | null }

/** Says what `action` on `resource` does; `name` is the resource's display name when it could be found. */
export function describeStepUp(action: string, resource: string | null | undefined, name: string | null): StepUpWords {
  const phrase = ACTIONS[action]
  if (!phrase) return { known: false, action, resource: resource ?? null }
  return { known: true, sentence: phrase(name ?? parseResource(resource)?.id ?? null) }
}

/** Whether the words for `action` name its resource (so looking the resource's name up is worth it). */
export function namesResource(action: string): boolean {
  return action.startsWith('security_key.') || action.startsWith('member.') || action === 'api_key.revoke'
}

/**
 * `value` when it is a path on this site to go back to after a step-up, otherwise null: it must start with
 * one "/" (not "//" or "/\", which browsers read as another host), hold no control characters (browsers drop
 * tabs and newlines, which could turn "/\t/host" into "//host"), and resolve to this origin.
 */
export function safeReturnPath(value: string | null | undefined, origin: string = window.location.origin): string | null {
  if (!value || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return null
  // Control characters (C0, DEL) have no place in a path, and browsers strip some of them before parsing.
  if (/[\u0000-\u001f\u007f]/.test(value)) return null
  try {
    // Returned as given, not normalized: "/..//host" normalizes to the path "//host", which as an address
    // would name another host, while the original resolves against this origin.
    return new URL(value, origin).origin === origin ? value : null
  } catch {
    return null
  }
}
