"""The Amazon Ads API client: configuration, LWA auth, retries and rate limiting,
pagination, one method per operation. Only this package sees httpx."""

from reconciler.api.client import AdsClient, AdsReader, BatchResult, FailedItem
from reconciler.api.config import ApiConfig
from reconciler.api.events import ClientEvent, ClientStats, EventKind
from reconciler.api.retry import RetryPolicy

__all__ = [
    "AdsClient",
    "AdsReader",
    "ApiConfig",
    "BatchResult",
    "ClientEvent",
    "ClientStats",
    "EventKind",
    "FailedItem",
    "RetryPolicy",
]
