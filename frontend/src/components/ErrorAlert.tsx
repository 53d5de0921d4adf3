import type { ReactNode } from 'react'
import type { UiError } from '../errors'

/** An error announced to assistive technology; the server's detail is shown when it helps. */
export function ErrorAlert({ error, children }: { error: UiError; children?: ReactNode }) {
  return (
    <div className="alert alert-error" role="alert" data-code={error.code}>
      <p>{error.message}</p>
      {error.detail && error.detail !== error.message && <p className="alert-detail">{error.detail}</p>}
      {children}
    </div>
  )
}
