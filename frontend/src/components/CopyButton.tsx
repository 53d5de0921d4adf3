import { useState } from 'react'

/** Copies `text` to the clipboard and says whether it worked (politely announced). */
export function CopyButton({ text, label, ariaLabel }: { text: string; label: string; ariaLabel?: string }) {
  const [status, setStatus] = useState<'idle' | 'copied' | 'failed'>('idle')
  async function copy() {
    try {
      await navigator.clipboard.writeText(text)
      setStatus('copied')
    } catch {
      setStatus('failed')
    }
    window.setTimeout(() => setStatus('idle'), 2500)
  }
  return (
    <span className="copy">
      <button type="button" className="button-small" onClick={copy} aria-label={ariaLabel}>
        {label}
      </button>
      <span aria-live="polite" className="copy-status">
        {status === 'copied' ? 'Copied' : status === 'failed' ? 'Copy failed: select the text and copy it yourself' : ''}
      </span>
    </span>
  )
}
