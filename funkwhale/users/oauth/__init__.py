"""OAuth 2 for third-party apps (authorization-code grant with optional PKCE, refresh rotation, RFC 7009
revocation) and personal application tokens, as Funkwhale 1.4 offers them through django-oauth-toolkit.

Only SHA-256 hashes of client secrets, codes and tokens are stored (funkwhale.users.tokens)."""
