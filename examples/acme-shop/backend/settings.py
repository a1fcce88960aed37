"""Configuration for the Acme Shop backend.

This is a deliberately vulnerable demo: some values below are hard-coded on purpose so that
keyguard has something to find. The "done right" lines show the fix.
"""

import os

# Wrong: a live secret key committed to the repository.
API_KEY = "sk_live_KZjJHRCk0Pf9ROxUZx24OLCt"

# Right: secrets come from the environment.
RESTRICTED_KEY = os.environ.get("ACME_RESTRICTED_KEY")
WEBHOOK_SECRET = os.environ.get("ACME_WEBHOOK_SECRET", "")

# Wrong: the API is called over plain HTTP.
API_BASE = "http://api.example.com/v1"

# Right: HTTPS everywhere else.
OAUTH_AUTHORIZE_URL = "https://api.example.com/oauth/authorize"
OAUTH_TOKEN_URL = "https://api.example.com/oauth/token"
OAUTH_REDIRECT_URI = "https://shop.example.org/oauth/callback"

# The client id is public; the client secret is not (see app.py).
OAUTH_CLIENT_ID = "acme-shop-demo"
OAUTH_SCOPES = "read:users read:orders"

SESSION_SECRET = os.environ.get("ACME_SESSION_SECRET", "dev-only-session-secret")
