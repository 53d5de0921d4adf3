import { useState } from 'react'
import { useClient } from 'urql'
import { WebhookSetDocument, type WebhookEvent, type WebhookFieldsFragment, type WebhookSetMutation } from '../../gql/graphql'
import { WEBHOOK_EVENTS, webhookProblems } from '../../webhooks'
import { CheckboxField, Field, SettingsForm, useSettingsForm } from '../Form'

type Saved = WebhookSetMutation['webhookSet']

const FIELDS = ['url', 'events'] as const

/** The webhook's address and events; saving the first time (or with "rotate") hands back a new secret. */
export function WebhookForm({ webhook, onSaved }: { webhook: WebhookFieldsFragment | null; onSaved: (saved: Saved) => void }) {
  const client = useClient()
  const form = useSettingsForm(FIELDS)
  const [url, setUrl] = useState(webhook?.url ?? '')
  const [events, setEvents] = useState<WebhookEvent[]>(webhook?.events ?? WEBHOOK_EVENTS.map((e) => e.value))
  const [rotate, setRotate] = useState(false)

  async function save() {
    const variables = { url: url.trim(), events, rotateSecret: webhook ? rotate : false }
    const data = await form.submit(
      webhookProblems(url, events),
      () => client.mutation(WebhookSetDocument, variables).toPromise(),
      webhook ? 'Saved the webhook.' : 'Saved: Keyward now sends these events to this address.',
    )
    if (!data) return
    setRotate(false)
    onSaved(data.webhookSet)
  }

  return (
    <SettingsForm form={form} submitLabel="Save webhook" busyLabel="Saving…" onSubmit={save}>
      <Field
        label="Address (URL)"
        hint="Keyward POSTs JSON here, signed with HMAC-SHA256 (X-Keyward-Signature). For Slack, point it at a small adapter (see the README)."
        error={form.errors.url}
      >
        {(control) => <input {...control} type="url" inputMode="url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://hooks.example.com/keyward" />}
      </Field>
      <fieldset className="field" aria-describedby={form.errors.events ? 'webhook-events-error' : undefined}>
        <legend>Events</legend>
        {WEBHOOK_EVENTS.map((event) => (
          <CheckboxField
            key={event.value}
            label={event.name}
            hint={event.description}
            checked={events.includes(event.value)}
            onChange={(checked) => setEvents((current) => (checked ? [...current, event.value] : current.filter((e) => e !== event.value)))}
          />
        ))}
        {form.errors.events && (
          <p id="webhook-events-error" className="field-error" role="alert">
            {form.errors.events}
          </p>
        )}
      </fieldset>
      {webhook && (
        <CheckboxField
          label="Rotate the signing secret"
          hint="A new secret is made and shown once; the old one stops working at once, so update the receiver right away."
          checked={rotate}
          onChange={setRotate}
        />
      )}
    </SettingsForm>
  )
}
