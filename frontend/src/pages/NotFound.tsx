import { Link } from '../router'

export function NotFoundPage() {
  return (
    <main id="main" className="page" aria-labelledby="nf-title">
      <h1 id="nf-title">Page not found</h1>
      <p>There is nothing at this address.</p>
      <Link to="/">Go to the home page</Link>
    </main>
  )
}
