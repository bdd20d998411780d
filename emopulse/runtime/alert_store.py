"""Where a stream's alert rules and its webhook delivery log are kept (KV buckets, key <stream>),
read by the gateway (the API) and the pulse service (which applies them)."""
from __future__ import annotations

from nats.js.errors import KeyNotFoundError

from emopulse.processing import pulse
from emopulse.v1 import api_pb2

RULES_BUCKET = "alert_rules"
DELIVERIES_BUCKET = "webhooks"
MAX_LOG = 500          # delivery attempts kept per stream, newest


async def load_rules(kv, stream_id: str) -> api_pb2.AlertRules:
    """The stream's rules, or the defaults (with no webhooks) when it has none of its own."""
    try:
        entry = await kv.get(stream_id)
        if entry.value:
            return api_pb2.AlertRules.FromString(entry.value)
    except KeyNotFoundError:
        pass
    return api_pb2.AlertRules(stream_id=stream_id, rules=pulse.default_rules(), defaults=True)


async def load_deliveries(kv, stream_id: str) -> api_pb2.ListWebhookDeliveriesResponse:
    try:
        entry = await kv.get(stream_id)
        return api_pb2.ListWebhookDeliveriesResponse.FromString(entry.value or b"")
    except KeyNotFoundError:
        return api_pb2.ListWebhookDeliveriesResponse()
