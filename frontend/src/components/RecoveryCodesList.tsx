import { recoveryCodesFile } from '../recoveryCodes'
import { useSession } from '../session'
import { CopyButton, DownloadButton } from './CopyButton'

/**
 * Freshly generated recovery codes: the list, Copy all and Download. The file names the organization, the
 * username and this Keyward's address, so it can be told apart from others months later.
 */
export function RecoveryCodesList({ codes, generatedAt }: { codes: string[]; generatedAt: Date }) {
  const { viewer } = useSession()
  const file = recoveryCodesFile(codes, {
    organizationName: viewer?.organization.name ?? '',
    organizationSlug: viewer?.organization.slug ?? '',
    username: viewer?.member.username ?? '',
    url: window.location.origin,
    generatedAt,
  })
  return (
    <>
      <ol className="codes" data-testid="recovery-codes" aria-label="Recovery codes">
        {codes.map((code) => (
          <li key={code}>
            <code>{code}</code>
          </li>
        ))}
      </ol>
      <div className="row">
        <CopyButton text={codes.join('\n')} label="Copy all" />
        <DownloadButton text={file.text} filename={file.filename} label="Download (.txt)" />
      </div>
    </>
  )
}
