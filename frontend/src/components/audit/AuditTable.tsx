import { Fragment, useState } from 'react'
import type { AuditEventFieldsFragment } from '../../gql/graphql'
import { AuditParty, AuditTime } from './AuditParty'

const COLUMNS = ['Seq', 'Time', 'Event', 'Actor', 'Action', 'Target', 'Outcome', 'IP'] as const

/** Audit events, one row each, with a disclosure for everything else that was recorded. */
export function AuditTable({ events, caption }: { events: AuditEventFieldsFragment[]; caption: string }) {
  const [open, setOpen] = useState<ReadonlySet<number>>(new Set())

  function toggle(seq: number) {
    setOpen((previous) => {
      const next = new Set(previous)
      if (next.has(seq)) next.delete(seq)
      else next.add(seq)
      return next
    })
  }

  return (
    <table className="keys audit" data-testid="audit-table">
      <caption className="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          {COLUMNS.map((column) => (
            <th scope="col" key={column}>
              {column}
            </th>
          ))}
          <th scope="col">
            <span className="visually-hidden">Details</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {events.map((event) => {
          const expanded = open.has(event.seq)
          const detailsId = `audit-details-${event.seq}`
          return (
            <Fragment key={event.seq}>
              <tr
                data-testid={`audit-event-${event.seq}`}
                data-action={event.action}
                data-actor={event.actor}
                data-target={event.target ?? ''}
              >
                <td data-label="Seq">{event.seq}</td>
                <td data-label="Time">
                  <AuditTime iso={event.at} />
                </td>
                <td data-label="Event">{event.summary}</td>
                <td data-label="Actor">
                  <AuditParty raw={event.actor} name={event.actorName} />
                </td>
                <td data-label="Action">{event.actionLabel}</td>
                <td data-label="Target">
                  <AuditParty raw={event.target} name={event.targetName} />
                </td>
                <td data-label="Outcome">
                  <Outcome outcome={event.outcome} />
                </td>
                <td data-label="IP">{event.ip ?? <span className="muted">none</span>}</td>
                <td className="actions">
                  <button
                    type="button"
                    className="button-small"
                    aria-expanded={expanded}
                    aria-controls={expanded ? detailsId : undefined}
                    onClick={() => toggle(event.seq)}
                  >
                    {expanded ? 'Hide details' : 'Details'}
                    <span className="visually-hidden"> of event {event.seq}</span>
                  </button>
                </td>
              </tr>
              {expanded && (
                <tr id={detailsId} className="audit-details">
                  <td colSpan={COLUMNS.length + 1}>
                    <EventDetails event={event} />
                  </td>
                </tr>
              )}
            </Fragment>
          )
        })}
      </tbody>
    </table>
  )
}

function Outcome({ outcome }: { outcome: string }) {
  if (outcome === 'SUCCESS') return <span className="badge badge-success">Success</span>
  if (outcome === 'FAILURE') return <span className="badge badge-error">Failure</span>
  return <span className="badge">{outcome}</span>
}

function EventDetails({ event }: { event: AuditEventFieldsFragment }) {
  return (
    <div className="event-details">
      <p className="event-details-title">Details of event {event.seq}</p>
      <pre tabIndex={0} aria-label={`Recorded details of event ${event.seq}`}>
        {JSON.stringify(event.details, null, 2)}
      </pre>
      <dl className="facts wrap-facts">
        <dt>Action</dt>
        <dd>
          <code>{event.action}</code>
        </dd>
        <dt>Actor</dt>
        <dd>
          <code>{event.actor}</code>
        </dd>
        <dt>Target</dt>
        <dd>{event.target ? <code>{event.target}</code> : <span className="muted">none</span>}</dd>
        <dt>Request</dt>
        <dd>{event.requestId ? <code>{event.requestId}</code> : <span className="muted">not recorded</span>}</dd>
        <dt>User agent</dt>
        <dd>{event.userAgent ?? <span className="muted">not recorded</span>}</dd>
        <dt>Previous hash</dt>
        <dd>
          <code>{event.prevHash}</code>
        </dd>
        <dt>Hash</dt>
        <dd>
          <code>{event.hash}</code>
        </dd>
      </dl>
    </div>
  )
}
