import type { ApprovalRequestFieldsFragment } from '../../gql/graphql'

type Summary = ApprovalRequestFieldsFragment['changeSummary']

/** One kind of change: its items as code, or "none". */
function Items({ items }: { items: readonly string[] }) {
  if (items.length === 0) return <span className="muted">none</span>
  return (
    <ul className="plain-list inline-list">
      {items.map((item) => (
        <li key={item}>
          <code>{item}</code>
        </li>
      ))}
    </ul>
  )
}

/**
 * What the run will change: the sensitive flags first and highlighted (they are why a human looks), then
 * resources, environment variables and rotated secrets.
 */
export function ChangeSummary({ summary }: { summary: Summary }) {
  const flags = summary.sensitiveFlags
  return (
    <div className="change-summary" data-testid="change-summary">
      {flags.length > 0 && (
        <div className="alert alert-warning sensitive" data-testid="sensitive-flags">
          <p>
            <strong>Sensitive:</strong>{' '}
            {flags.map((flag) => (
              <span key={flag} className="badge badge-error sensitive-flag">
                {flag}
              </span>
            ))}
          </p>
        </div>
      )}
      <dl className="facts wrap-facts">
        <dt>Resources</dt>
        <dd data-testid="change-resources">
          <Items items={summary.resources} />
        </dd>
        <dt>Environment variables</dt>
        <dd data-testid="change-env-vars">
          <Items items={summary.envVarsChanged} />
        </dd>
        <dt>Secrets rotated</dt>
        <dd data-testid="change-secrets">
          <Items items={summary.secretsRotated} />
        </dd>
      </dl>
    </div>
  )
}
