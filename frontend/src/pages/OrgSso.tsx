import { useQuery } from 'urql'
import { OrganizationSsoDocument, type SsoFieldsFragment } from '../gql/graphql'
import { LoadState } from '../components/Loading'
import { CopyField } from '../components/Form'
import { OrgPage } from '../components/OrgPage'
import { Time } from '../components/Time'
import { BackupCredentialsCard } from '../components/org/BackupCredentialsCard'
import { IdpAccountCard } from '../components/org/IdpAccountCard'
import { SsoSettingsForm } from '../components/org/SsoSettingsForm'
import { SsoTestResultCard, useSsoTest } from '../components/org/SsoTestResult'

/** Organization settings → Single sign-on: the OIDC settings, linking your own IdP account, backup credentials. */
export function OrgSsoPage() {
  const [{ data, fetching, error }, reexecute] = useQuery({ query: OrganizationSsoDocument, requestPolicy: 'cache-and-network' })
  const reload = () => reexecute({ requestPolicy: 'network-only' })
  const org = data?.organization
  const test = useSsoTest(window.location.search)

  return (
    <OrgPage title="Single sign-on" busy={fetching}>
      {test.state && <SsoTestResultCard state={test.state} onDismiss={test.dismiss} />}
      <section className="card" aria-labelledby="sso-settings-title">
        <h2 id="sso-settings-title">Identity provider (OIDC)</h2>
        {!org && <LoadState loading={fetching} loadingText="Loading the SSO settings…" error={error} onRetry={reload} />}
        {org && (
          <>
            <p>
              Members log in through your organization&apos;s OpenID Connect identity provider, then touch their security key.
              Register Keyward as a confidential client with this redirect URI first:
            </p>
            <CopyField
              label="Redirect URI"
              value={org.ssoRedirectUri}
              hint="Add it to the client's allowed redirect (callback) URIs at the identity provider."
            />
            {org.sso ? <CurrentSettings sso={org.sso} /> : <p data-testid="sso-not-configured">Single sign-on is not set up yet.</p>}
            <section aria-labelledby="sso-form-title" className="subsection">
              <h3 id="sso-form-title">{org.sso ? 'Change the settings' : 'Set up single sign-on'}</h3>
              <SsoSettingsForm sso={org.sso ?? null} draft={test.draft} onSaved={reload} />
            </section>
          </>
        )}
      </section>
      <IdpAccountCard configured={!!org?.sso} loaded={!!org} />
      <BackupCredentialsCard />
    </OrgPage>
  )
}

function CurrentSettings({ sso }: { sso: SsoFieldsFragment }) {
  const none = <span className="muted">none</span>
  return (
    <section aria-labelledby="sso-current-title" className="subsection" data-testid="sso-current">
      <h3 id="sso-current-title">Current settings</h3>
      <dl className="facts wrap-facts">
        <dt>Issuer URL</dt>
        <dd>{sso.issuer}</dd>
        <dt>Client ID</dt>
        <dd>{sso.clientId}</dd>
        <dt>Client secret</dt>
        <dd>{sso.hasClientSecret ? 'stored' : <span className="muted">none stored</span>}</dd>
        <dt>Scopes</dt>
        <dd>{sso.scopes.length ? sso.scopes.join(' ') : none}</dd>
        <dt>Admin group</dt>
        <dd>
          {sso.adminGroupClaim && sso.adminGroupValue ? (
            <>
              <code>{sso.adminGroupValue}</code> in the <code>{sso.adminGroupClaim}</code> claim
            </>
          ) : (
            none
          )}
        </dd>
        <dt>Allowed e-mail domains</dt>
        <dd>{sso.allowedEmailDomains.length ? sso.allowedEmailDomains.join(', ') : 'any (anyone at your IdP can sign in)'}</dd>
        <dt>Last changed</dt>
        <dd>
          <Time iso={sso.updatedAt} />
        </dd>
      </dl>
    </section>
  )
}
