import type { ApprovalRequestDetailFieldsFragment } from '../../gql/graphql'
import { CopyButton } from '../CopyButton'
import { Time } from '../Time'
import { RunLink } from './ApprovalCard'
import { FullDigest, TimeLeft } from './RequestParts'

/** Every field of a request, as the pipeline sent it and as Keyward decided it. */
export function RequestFacts({ request }: { request: ApprovalRequestDetailFieldsFragment }) {
  return (
    <dl className="facts wrap-facts" data-testid="request-facts">
      <dt>Pipeline</dt>
      <dd>{request.pipeline}</dd>
      <dt>Run</dt>
      <dd>
        <RunLink runId={request.runId} runUrl={request.runUrl} />
        {request.runUrl && <span className="muted"> (opens the CI run)</span>}
      </dd>
      <dt>Stage</dt>
      <dd>{request.stage}</dd>
      <dt>Environment</dt>
      <dd data-testid="request-environment">{request.environment}</dd>
      <dt>Commit</dt>
      <dd>
        <code data-testid="commit-full">{request.commitSha}</code> by {request.commitAuthor}
      </dd>
      <dt>Requested by</dt>
      <dd>{request.requester}</dd>
      <dt>Requested</dt>
      <dd>
        <Time iso={request.createdAt} />
      </dd>
      <dt>{request.status === 'PENDING' ? 'Expires' : 'Expiry'}</dt>
      <dd>
        {request.status === 'PENDING' ? <TimeLeft expiresAt={request.expiresAt} /> : <Time iso={request.expiresAt} />}
      </dd>
      {request.decidedAt && (
        <>
          <dt>Decided</dt>
          <dd>
            <Time iso={request.decidedAt} />
          </dd>
        </>
      )}
      {request.reason && (
        <>
          <dt>{request.status === 'PENDING' ? 'Policy says' : 'Reason'}</dt>
          <dd data-testid="approval-reason">{request.reason}</dd>
        </>
      )}
      <dt>Request digest</dt>
      <dd>
        <FullDigest digest={request.digest} label="request digest" />
      </dd>
      <dt>Plan digest</dt>
      <dd>
        <FullDigest digest={request.planDigest} label="plan digest" />
      </dd>
      <dt>Policy version</dt>
      <dd>{request.policyVersion}</dd>
      <dt>Token ID (jti)</dt>
      <dd data-testid="token-jti">{request.tokenJti ? <code>{request.tokenJti}</code> : <span className="muted">no token issued</span>}</dd>
      <dt>Address</dt>
      <dd>
        <code>{request.approvalUrl}</code> <CopyButton text={request.approvalUrl} label="Copy" ariaLabel="Copy the address of this request" />
      </dd>
    </dl>
  )
}
