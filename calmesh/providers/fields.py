"""Connect-form declarations shared by several integrations (see base.Integration)."""

from __future__ import annotations

from calmesh.providers.base import FormField
from calmesh.schema import Object, String

NAME = String(min_length=1, max_length=200, description="Display name")
USERNAME = String(min_length=1, max_length=300, strip=False)
PASSWORD = String(
    min_length=1, max_length=1000, strip=False, description="For iCloud: an app-specific password"
)

# Google and Microsoft: only a name; the rest comes with the consent.
OAUTH_BODY = Object({"name": NAME}, name="NewOAuthConnection")

USERNAME_FIELD = FormField("username", "Username", autocomplete="username")
PASSWORD_FIELD = FormField("password", "Password", type="password", autocomplete="current-password")
