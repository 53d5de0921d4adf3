import { useState } from 'react'

/** Copies `text` to the clipboard and says whether it worked (politely announced). */
export function CopyButton({
  text,
  label,
  ariaLabel,
  describedBy,
}: {
  text: string
  label: string
  ariaLabel?: string
  /** The ID of what is copied (its label), when the button's name alone says too little. */
  describedBy?: string
}) {
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
      <button type="button" className="button-small" onClick={copy} aria-label={ariaLabel} aria-describedby={describedBy}>
        {label}
      </button>
      <span aria-live="polite" className="copy-status">
        {status === 'copied' ? 'Copied' : status === 'failed' ? 'Copy failed: select the text and copy it yourself' : ''}
      </span>
    </span>
  )
}

/** Hands `text` to the user as a file called `filename`. */
export function downloadText(filename: string, text: string, type = 'text/plain'): void {
  const url = URL.createObjectURL(new Blob([text], { type }))
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  document.body.append(a)
  a.click()
  a.remove()
  // Some browsers start the download only after the click handler returns.
  window.setTimeout(() => URL.revokeObjectURL(url), 1000)
}

/** A button that saves `text` as a file called `filename`. */
export function DownloadButton({ text, filename, label }: { text: string; filename: string; label: string }) {
  return (
    <button type="button" onClick={() => downloadText(filename, text)}>
      {label}
    </button>
  )
}
