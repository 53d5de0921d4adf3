import { shortDigest } from '../../approvalWords'
import { CopyButton } from '../CopyButton'

/** A request digest, shortened (the full one in its title), with a button that copies all of it. */
export function Digest({ digest, label = 'digest' }: { digest: string; label?: string }) {
  return (
    <span className="digest">
      <code title={digest} data-testid="digest-short">
        {shortDigest(digest)}
      </code>{' '}
      <CopyButton text={digest} label="Copy" ariaLabel={`Copy the full ${label}`} />
    </span>
  )
}

/** A digest in full, wrapped to fit, with a copy button. */
export function FullDigest({ digest, label = 'digest' }: { digest: string; label?: string }) {
  return (
    <span className="digest digest-full">
      <code data-testid="digest-full">{digest}</code> <CopyButton text={digest} label="Copy" ariaLabel={`Copy the ${label}`} />
    </span>
  )
}
