// The org webhook's form checks and words: pure, unit-tested in webhooks.test.ts.
import type { WebhookEvent } from './gql/graphql'

/** The events a webhook can carry, in the order the form offers them, with their names in the payload. */
export const WEBHOOK_EVENTS: readonly { value: WebhookEvent; name: string; description: string }[] = [
  { value: 'APPROVAL_REQUESTED', name: 'approval.requested', description: 'A pipeline asked for approval.' },
  { value: 'APPROVAL_APPROVED', name: 'approval.approved', description: 'A request was approved (a token was issued).' },
  { value: 'APPROVAL_REJECTED', name: 'approval.rejected', description: 'A request was rejected, by a person or the policy.' },
  { value: 'APPROVAL_EXPIRED', name: 'approval.expired', description: 'A request expired before it was decided.' },
]

/** An event's payload name (`approval.approved`), or the enum value for one this SPA does not know. */
export function eventName(event: string): string {
  return WEBHOOK_EVENTS.find((e) => e.value === event)?.name ?? event
}

/** What is wrong with the webhook form, by field; empty when it can be sent. */
export function webhookProblems(url: string, events: readonly string[]): Partial<Record<'url' | 'events', string>> {
  const problems: Partial<Record<'url' | 'events', string>> = {}
  const trimmed = url.trim()
  if (!trimmed) {
    problems.url = 'Enter the address Keyward should send events to.'
  } else {
    let parsed: URL | null = null
    try {
      parsed = new URL(trimmed)
    } catch {
      parsed = null
    }
    if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
      problems.url = 'Enter a full web address starting with https:// (or http://).'
    } else if (parsed.username || parsed.password) {
      problems.url = 'Leave credentials out of the address: Keyward signs every delivery instead.'
    }
  }
  if (events.length === 0) problems.events = 'Choose at least one event.'
  return problems
}
