"""Alerts delivered to user webhooks over HTTP: signed, one POST per attempt, every failure in words.

A receiver trusts a delivery by checking the signature: HMAC-SHA256 over "<timestamp>.<body>" with the
webhook's secret, sent as `X-EmoPulse-Signature: sha256=<hex>` next to `X-EmoPulse-Timestamp`. Signing
the timestamp too lets `verify` refuse an old delivery replayed later. The same alert keeps its id on
every attempt (`X-EmoPulse-Alert-Id`), so a receiver that got a delivery whose answer was lost can drop
the retry. Redirects are never followed: a 3xx is a failure, so a receiver cannot send the signed
body (or the caller's session) to another host.

`post` never raises for anything the network or the receiver did; it returns a WebhookDelivery whose
`error` is short enough to show a user and never holds the secret.
"""
from __future__ import annotations

import asyncio
import errno
import hashlib
import hmac
import json
import os
import re
import time
from urllib.parse import urlsplit

import aiohttp
from google.protobuf import json_format

from emopulse.v1 import api_pb2
from emopulse.v1 import results_pb2 as pb

SIGNATURE_HEADER = "X-EmoPulse-Signature"
TIMESTAMP_HEADER = "X-EmoPulse-Timestamp"
ALERT_ID_HEADER = "X-EmoPulse-Alert-Id"  # the same on every attempt: lets receivers drop a repeat
MAX_URL_LENGTH = 2048

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_OS_WORDS = {errno.ECONNREFUSED: "connection refused", errno.ECONNRESET: "connection reset",
             errno.ETIMEDOUT: "timed out", errno.EHOSTUNREACH: "host unreachable",
             errno.ENETUNREACH: "network unreachable", errno.EADDRNOTAVAIL: "address not available"}


def body(alert: pb.Alert) -> bytes:
    """The alert as compact JSON with sorted keys: the exact bytes that are signed and sent."""
    data = json_format.MessageToDict(alert, preserving_proto_field_name=True)
    return json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, now: float | None = None,
           tolerance_s: float = 300) -> bool:
    """True when the signature is the secret's and the timestamp is within tolerance_s of now (either way)."""
    if not _TIMESTAMP.fullmatch(timestamp or ""):
        return False
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).encode()
    return hmac.compare_digest(expected, (signature or "").encode("utf-8", "replace"))


def retry_delay(attempt: int, cap_s: float = 60.0) -> float:
    """Seconds to wait before attempt `attempt + 1` after attempt `attempt` (from 1) failed: 1, 2, 4, ... cap_s."""
    if attempt < 1:
        raise ValueError(f"attempts count from 1, not {attempt}")
    return float(min(cap_s, 2.0 ** min(attempt - 1, 62)))


def check_url(url: str) -> str:
    """The url if it can be a webhook (SetAlertRules); a ValueError saying what is wrong otherwise.

    The URL is not echoed in the messages: one with userinfo may carry a password.
    """
    if not url:
        raise ValueError("a webhook needs a URL")
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"the webhook URL is {len(url)} characters long, at most {MAX_URL_LENGTH} are allowed")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise ValueError("the webhook URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise ValueError("the webhook URL is not a valid URL (check its host and port)") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("a webhook URL must start with http:// or https://")
    if "@" in parts.netloc:
        raise ValueError("a webhook URL must not hold a user name or password; use the webhook's secret")
    if not parts.hostname:
        raise ValueError("the webhook URL has no host")
    return url


async def post(session: aiohttp.ClientSession, webhook: api_pb2.Webhook, alert: pb.Alert, attempt: int,
               timeout_s: float, now: float | None = None) -> api_pb2.WebhookDelivery:
    """One signed POST of the alert; what happened, as a WebhookDelivery (delivered iff the answer was 2xx)."""
    now = time.time() if now is None else now
    data = body(alert)
    timestamp = str(int(now))
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
               SIGNATURE_HEADER: sign(webhook.secret, timestamp, data), ALERT_ID_HEADER: alert.id}
    delivery = api_pb2.WebhookDelivery(alert_id=alert.id, url=webhook.url, attempt=attempt, at=now)
    try:
        async with session.post(webhook.url, data=data, headers=headers, allow_redirects=False,
                                raise_for_status=False,
                                timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
            delivery.status = response.status
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
        delivery.error = _words(exc, timeout_s)
        return delivery
    if 200 <= delivery.status < 300:
        delivery.delivered = True
    elif 300 <= delivery.status < 400:
        delivery.error = f"HTTP {delivery.status} from the receiver: redirects are not followed"
    else:
        delivery.error = f"HTTP {delivery.status} from the receiver"
    return delivery


def _words(exc: BaseException, timeout_s: float) -> str:
    """A failure in a few words for the user: the kind of failure, never the exception's own dump."""
    if isinstance(exc, asyncio.TimeoutError):  # aiohttp's ServerTimeoutError and friends are TimeoutErrors
        return f"no answer within {timeout_s:g} s"
    if isinstance(exc, aiohttp.InvalidURL):
        return "the webhook URL is not valid"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "could not connect: host not found"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return "could not connect: the receiver's TLS certificate was not accepted"
    if isinstance(exc, aiohttp.ClientSSLError):
        return "could not connect: the TLS handshake failed"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "could not connect: " + _os_words(exc.os_error)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the receiver closed the connection without answering"
    if isinstance(exc, (aiohttp.ClientResponseError, aiohttp.ClientPayloadError)):
        return "the receiver's answer was not valid HTTP"
    if isinstance(exc, OSError):  # ClientOSError and plain socket errors
        return "connection failed: " + _os_words(exc)
    return f"delivery failed ({type(exc).__name__})"


def _os_words(exc: OSError) -> str:
    code = exc.errno
    if code in _OS_WORDS:
        return _OS_WORDS[code]
    return os.strerror(code).lower() if code else "network error"
