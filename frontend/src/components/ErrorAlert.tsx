import type { ReactNode } from 'react'
import type { UiError } from '../errors'

/**
 * An error announced to assistive technology; the server's detail is shown when it helps. With `technical`,
 * what the server or browser said (and the code) sits behind a "Technical details" disclosure, for support.
 */
export function ErrorAlert({ error, children, technical = false }: { error: UiError; children?: ReactNode; technical?: boolean }) {
  return (
    <div className="alert alert-error" role="alert" data-code={error.code}>
      <p>{error.message}</p>
      {error.detail && error.detail !== error.message && <p className="alert-detail">{error.detail}</p>}
      {technical && (
        <details className="technical">
          <summary>Technical details</summary>
          <p>
            <code>{error.technical ?? error.code}</code>
          </p>
        </details>
      )}
      {children}
    </div>
  )
}
