import { useCallback, useEffect, useId, useRef } from 'react'
import type { CombinedError } from '@urql/core'

/** A problem the server found in the policy text, at a line (1-based). */
export interface LineError {
  line: number | null
  message: string
}

/**
 * The server's verdict on the policy text (`BAD_USER_INPUT` not about another field, with `extensions.line`
 * when the Rego compiler named one), or null.
 */
export function regoErrorFrom(error: CombinedError | null | undefined, otherFields: readonly string[] = []): LineError | null {
  const bad = error?.graphQLErrors.find(
    (e) => e.extensions?.code === 'BAD_USER_INPUT' && !otherFields.includes(String(e.extensions?.field ?? '')),
  )
  if (!bad) return null
  const line = bad.extensions?.line
  // The server starts the message with the field's name; the editor's label already says it.
  const message = bad.message.replace(/^(rego|policy): /, '')
  return { line: typeof line === 'number' && Number.isInteger(line) ? line : null, message }
}

interface RegoEditorProps {
  label: string
  hint: string
  value: string
  onChange: (value: string) => void
  /** Marks its line in the gutter and behind the text, and says what is wrong under the editor. */
  error: LineError | null
  disabled?: boolean
}

/**
 * A monospace editor for Rego: a textarea with line numbers beside it. A compile error from the server is
 * marked at its line (gutter and a band behind the text) and explained below, with a button that selects
 * that line. Long lines scroll sideways instead of wrapping, so every line number stays beside its line.
 */
export function RegoEditor({ label, hint, value, onChange, error, disabled }: RegoEditorProps) {
  const id = useId()
  const area = useRef<HTMLTextAreaElement>(null)
  const gutter = useRef<HTMLDivElement>(null)
  const band = useRef<HTMLDivElement>(null)
  const lines = Math.max(1, value.split('\n').length)
  const errorLine = error?.line && error.line >= 1 && error.line <= lines ? error.line : null

  // Keeps the gutter and the error band level with the text as it scrolls. Set through the CSSOM, which
  // the strict Content-Security-Policy allows (style attributes in markup it would refuse).
  const follow = useCallback(() => {
    const textarea = area.current
    if (!textarea) return
    if (gutter.current) gutter.current.scrollTop = textarea.scrollTop
    if (band.current && errorLine) {
      const style = getComputedStyle(textarea)
      const lineHeight = parseFloat(style.lineHeight) || 20
      const top = parseFloat(style.paddingTop) + (errorLine - 1) * lineHeight - textarea.scrollTop
      band.current.style.height = `${lineHeight}px`
      band.current.style.transform = `translateY(${top}px)`
    }
  }, [errorLine])
  useEffect(follow, [follow, value])

  /** Selects the line with the error and scrolls to it. */
  function goToLine() {
    const textarea = area.current
    if (!textarea || !errorLine) return
    const all = value.split('\n')
    const start = all.slice(0, errorLine - 1).reduce((sum, line) => sum + line.length + 1, 0)
    textarea.focus()
    textarea.setSelectionRange(start, start + all[errorLine - 1].length)
    const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 20
    textarea.scrollTop = Math.max(0, (errorLine - 3) * lineHeight)
    follow()
  }

  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <div className={error ? 'code-editor code-editor-invalid' : 'code-editor'} data-testid="rego-editor">
        <div className="code-gutter" ref={gutter} aria-hidden="true">
          <div className="code-gutter-lines">
            {Array.from({ length: lines }, (_, i) => (
              <span key={i} className={i + 1 === errorLine ? 'code-line-number code-line-error' : 'code-line-number'} data-line={i + 1}>
                {i + 1}
              </span>
            ))}
          </div>
        </div>
        <div className="code-body">
          {errorLine && <div className="code-error-band" ref={band} aria-hidden="true" data-testid="rego-error-band" />}
          <textarea
            ref={area}
            id={id}
            className="code-area"
            value={value}
            onChange={(e) => onChange(e.target.value)}
            onScroll={follow}
            rows={18}
            wrap="off"
            spellCheck={false}
            autoCapitalize="none"
            autoCorrect="off"
            disabled={disabled}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? `${id}-error ${id}-hint` : `${id}-hint`}
          />
        </div>
      </div>
      {error && (
        <div id={`${id}-error`} className="field-error code-error" data-testid="rego-error" role="alert">
          <p>
            <strong>{errorLine ? `Error at line ${errorLine}` : 'The policy was not accepted'}</strong>
          </p>
          <pre>{error.message}</pre>
          {errorLine && (
            <button type="button" className="button-small" onClick={goToLine}>
              Go to line {errorLine}
            </button>
          )}
        </div>
      )}
      <p id={`${id}-hint`} className="hint">
        {hint}
      </p>
    </div>
  )
}
