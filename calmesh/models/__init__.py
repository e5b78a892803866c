"""All models; :data:`ALL_MODELS` is what a fresh database is created from."""

from __future__ import annotations

from calmesh.models.system import Heartbeat, Lease, RateCounter
from calmesh.models.users import SCOPES, ApiKey, User

ALL_MODELS = [User, ApiKey, RateCounter, Lease, Heartbeat]

__all__ = ["ALL_MODELS", "SCOPES", "ApiKey", "Heartbeat", "Lease", "RateCounter", "User"]
