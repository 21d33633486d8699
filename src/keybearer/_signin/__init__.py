"""Browser sign-in: PKCE/state/nonce per attempt, the redirect, the loopback receiver, the URL."""
