"""The atproto OAuth profile: I/O-free building blocks and flows.

Modules, one concern each:

- :mod:`.errors` the OAuth error classes
- :mod:`.pkce` PKCE S256 verifier and challenge
- :mod:`.keys` the ES256 DPoP key (needs the ``oauth`` extra when used)
- :mod:`.dpop` DPoP proofs, ``htu`` normalization, per-origin nonces, nonce challenges
- :mod:`.urls` which server URLs are acceptable (https; loopback http when allowed)
- :mod:`.metadata` protected-resource and authorization-server metadata validation
- :mod:`.client_id` client identity, loopback ``client_id``, scopes
- :mod:`.authorization` PAR body, authorization URL, pending request, callback check
- :mod:`.tokens` token response validation
- :mod:`.session` the serializable OAuth session
- :mod:`.identity` minimal handle/DID → PDS resolution for the binding check
- :mod:`.flow` the steps as generators (discovery, PAR, finish, refresh, revoke)
- :mod:`.drive` names the shells that run a flow over httpx (``run_flow`` in
  ``_async/oauth.py`` and its generated sync twin)
- :mod:`.resource` plain DPoP signing of PDS requests (``httpx.Auth``) and PDS error mapping
- :mod:`.auth` the steps of the clients' ``httpx.Auth`` (DPoP, nonces, one-at-a-time
  refresh, shared sessions); the shell is ``_async/oauth.py`` (``AsyncOAuthAuth``) and
  its generated twin ``_sync/oauth.py`` (``OAuthAuth``)
- :mod:`.loopback` the one-shot loopback callback server

The clients use all of it through ``_async/oauthlogin.py`` (``login_oauth``,
``oauth_start``, ``oauth_finish``) and ``_async/client.py`` (sessions, logout).

Importing this package does not need ``cryptography``; making or loading a
DPoP key does, and raises :class:`.errors.OAuthUnavailableError` without it.
The package itself imports none of its modules: the clients import them on
the OAuth paths only, so a password-only script never pays for them.
"""
