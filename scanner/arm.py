"""One client factory for every Azure SDK client the scanner uses, with the safety policies built in.

Every client gets:
- a `GuardedTransport`: the last hop before the wire. It lets through only GET (and HEAD), so nothing
  the SDK does on its own (azure-mgmt-core's auto-registration policy POSTs
  `/providers/<rp>/register` on a 409 MissingSubscriptionRegistration) can write to the subscription
  being audited. It also refuses any host but the ARM endpoint, so the bearer token never follows a
  `nextLink` elsewhere, and it enforces the scan's overall deadline.
- a `CappedRetryPolicy`: azure-core sleeps `Retry-After` uncapped (a 429 with `Retry-After: 1200` would
  stall a nightly job for 20 minutes per call). We cap it and give up when the deadline would pass.
- no network-trace logging (headers are never logged).
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    DecodeError,
    DeserializationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.policies import RetryPolicy
from azure.core.pipeline.transport import RequestsTransport

from . import redact

log = logging.getLogger(__name__)

PUBLIC_ARM = "https://management.azure.com"
READ_METHODS = frozenset({"GET", "HEAD"})
# Read-only POSTs that may ever be needed (e.g. a Resource Graph query). None are used today.
READ_ONLY_POSTS: frozenset[str] = frozenset()


# --------------------------------------------------------------------------- errors
class ScanError(Exception):
    """Not an AzureError on purpose: azure-core's RetryPolicy retries AzureErrors, and these must
    stop at once."""

    code = "ScanError"


class ReadOnlyViolation(ScanError):
    code = "ReadOnlyGuard"

    def __init__(self, method: str, url: str):
        self.method, self.url = method, url
        path = urlsplit(url).path
        if path.rstrip("/").endswith("/register"):
            # Only the auto-registration policy sends this: the real cause is an unregistered RP.
            self.code = "MissingSubscriptionRegistration"
            rp = path.rstrip("/").split("/")[-2]
            super().__init__(f"resource provider {rp} is not registered for the subscription; "
                             f"the scanner is read-only and will not register it")
        else:
            super().__init__(f"blocked {method} {path}: the scanner only reads")


class ForeignHostError(ScanError):
    code = "ForeignNextLink"

    def __init__(self, url: str, allowed: str):
        parts = urlsplit(url)
        super().__init__(f"refused to follow a link to {parts.scheme}://{parts.netloc} "
                         f"(only {allowed} receives the token)")


class DeadlineExceeded(ScanError):
    code = "DeadlineExceeded"


class MalformedResponse(ScanError):
    code = "MalformedResponse"


# --------------------------------------------------------------------------- ledger and deadline
@dataclass
class RequestLedger:
    """Counts what left the process (and what was blocked), for the report and for tests."""
    sent: list[tuple[str, str]] = field(default_factory=list)
    blocked: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, method: str, path: str) -> None:
        with self._lock:
            self.sent.append((method, path))

    def block(self, method: str, path: str) -> None:
        with self._lock:
            self.blocked.append((method, path))

    @property
    def count(self) -> int:
        return len(self.sent)


class Deadline:
    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self._end = time.monotonic() + seconds if seconds else None

    def remaining(self) -> float:
        return float("inf") if self._end is None else self._end - time.monotonic()

    def check(self) -> None:
        if self.remaining() <= 0:
            raise DeadlineExceeded(f"scan deadline of {self.seconds:g} s reached")


# --------------------------------------------------------------------------- pipeline pieces
class GuardedTransport(RequestsTransport):
    def __init__(self, allowed_netloc: str, ledger: RequestLedger, deadline: Deadline, **kwargs: Any):
        super().__init__(**kwargs)
        self._allowed = allowed_netloc.lower()
        self._ledger = ledger
        self._deadline = deadline

    def send(self, request, **kwargs):
        method = request.method.upper()
        parts = urlsplit(request.url)
        if method not in READ_METHODS and not (method == "POST" and parts.path.lower() in READ_ONLY_POSTS):
            self._ledger.block(method, parts.path)
            raise ReadOnlyViolation(method, request.url)
        if parts.scheme != "https" or parts.netloc.lower() != self._allowed:
            self._ledger.block(method, f"{parts.scheme}://{parts.netloc}{parts.path}")
            raise ForeignHostError(request.url, self._allowed)
        self._deadline.check()
        self._ledger.record(method, parts.path)
        return super().send(request, **kwargs)


class CappedRetryPolicy(RetryPolicy):
    """RetryPolicy with `Retry-After` capped and an overall deadline."""

    def __init__(self, max_retry_after: float, deadline: Deadline, **kwargs: Any):
        kwargs.setdefault("retry_total", 4)
        kwargs.setdefault("retry_backoff_factor", 0.5)
        kwargs.setdefault("retry_backoff_max", max_retry_after)
        super().__init__(**kwargs)
        self.max_retry_after = max_retry_after
        self.deadline = deadline

    def get_retry_after(self, response):
        try:
            value = super().get_retry_after(response)
        except (ValueError, TypeError, OverflowError):
            # azure-core raises for a Retry-After that is neither seconds nor an HTTP date; that
            # would fail the whole call. Ignore the header and back off instead.
            return None
        if value is None:
            return None
        return min(max(value, 0.0), self.max_retry_after)

    def sleep(self, settings, transport, response=None):
        planned = self.get_retry_after(response) if response is not None else None
        if planned is None:
            planned = self.get_backoff_time(settings)
        if planned >= self.deadline.remaining():
            raise DeadlineExceeded(f"scan deadline of {self.deadline.seconds:g} s would pass while waiting to retry")
        if planned > 0:
            transport.sleep(planned)


# --------------------------------------------------------------------------- credentials
class StaticTokenCredential:
    """A bearer token handed to us (AZURE_ACCESS_TOKEN): CI jobs that already hold one, simulators."""

    def __init__(self, token: str):
        self._token = token.strip()
        redact.register_secret(self._token)  # whatever its shape, it never appears in an output
        self._expires = _jwt_expiry(self._token) or int(time.time()) + 3600

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, self._expires)

    def get_token_info(self, *scopes: str, options: Any = None):
        from azure.core.credentials import AccessTokenInfo
        return AccessTokenInfo(self._token, self._expires)

    def __repr__(self) -> str:  # never show the token
        return "StaticTokenCredential(<redacted>)"


def _jwt_expiry(token: str) -> int | None:
    import base64
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        exp = json.loads(base64.urlsafe_b64decode(payload)).get("exp")
        return int(exp) if exp else None
    except (ValueError, TypeError):
        return None


def make_credential(env: dict[str, str] | None = None):
    env = dict(os.environ if env is None else env)
    redact.register_secret(env.get("AZURE_CLIENT_SECRET"))
    token = env.get("AZURE_ACCESS_TOKEN", "").strip()
    if token:
        return StaticTokenCredential(token)
    from azure.identity import DefaultAzureCredential
    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


# --------------------------------------------------------------------------- factory
@dataclass
class ArmSettings:
    endpoint: str = PUBLIC_ARM
    verify: bool | str = True  # True, or a CA bundle path
    max_retry_after: float = 60.0
    timeout: float | None = 3600.0  # overall deadline, seconds
    read_timeout: float = 60.0
    connection_timeout: float = 20.0
    retry_total: int = 4


def tls_verify_from_env(env: dict[str, str] | None = None) -> bool | str:
    """TLS trust follows the standard variables: REQUESTS_CA_BUNDLE (requests reads it itself too),
    then SSL_CERT_FILE (which requests would otherwise ignore in favour of certifi)."""
    env = dict(os.environ if env is None else env)
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        if env.get(name):
            return env[name]
    return True


class ClientFactory:
    """Builds every SDK client with the same guard, retry, deadline and ledger."""

    def __init__(self, credential: Any, settings: ArmSettings, ledger: RequestLedger | None = None):
        self.credential = credential
        self.settings = settings
        self.endpoint = settings.endpoint.rstrip("/")
        self.netloc = urlsplit(self.endpoint).netloc
        self.scope = f"{self.endpoint}/.default"
        self.ledger = ledger or RequestLedger()
        self.deadline = Deadline(settings.timeout)

    def _kwargs(self) -> dict[str, Any]:
        s = self.settings
        transport = GuardedTransport(self.netloc, self.ledger, self.deadline, connection_verify=s.verify,
                                     read_timeout=s.read_timeout, connection_timeout=s.connection_timeout)
        return dict(base_url=self.endpoint, credential_scopes=[self.scope], transport=transport,
                    retry_policy=CappedRetryPolicy(s.max_retry_after, self.deadline, retry_total=s.retry_total),
                    logging_enable=False)

    def _build(self, cls: Callable[..., Any], subscription_id: str) -> Any:
        return cls(self.credential, subscription_id, **self._kwargs())

    def compute(self, subscription_id: str):
        from azure.mgmt.compute import ComputeManagementClient
        return self._build(ComputeManagementClient, subscription_id)

    def resources(self, subscription_id: str):
        from azure.mgmt.resource.resources import ResourceManagementClient
        return self._build(ResourceManagementClient, subscription_id)

    def locks(self, subscription_id: str):
        from azure.mgmt.resource.locks import ManagementLockClient
        return self._build(ManagementLockClient, subscription_id)

    def vaults(self, subscription_id: str):
        from azure.mgmt.recoveryservices import RecoveryServicesClient
        return self._build(RecoveryServicesClient, subscription_id)

    def backup(self, subscription_id: str):
        from azure.mgmt.recoveryservicesbackup import RecoveryServicesBackupClient
        return self._build(RecoveryServicesBackupClient, subscription_id)

    def site_recovery(self, subscription_id: str):
        from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
        return self._build(SiteRecoveryManagementClient, subscription_id)

    def check_credential(self) -> None:
        """Fail early, before any scan, when no credential works (exit 2, nothing scanned)."""
        self.credential.get_token(self.scope)

    def list_subscriptions(self) -> list[str]:
        """Every subscription this identity can read (GET /subscriptions, paged), for
        --all-subscriptions. Disabled and deleted subscriptions cannot be scanned and are left out."""
        from azure.core.rest import HttpRequest
        client = self.resources("00000000-0000-0000-0000-000000000000")  # the list needs no subscription
        url: str | None = f"{self.endpoint}/subscriptions?api-version=2022-12-01"
        found: list[str] = []
        pages = 0
        while url and pages < 1000:  # bounded: a service that loops its nextLink cannot keep us here
            response = client.send_request(HttpRequest("GET", url))
            response.raise_for_status()
            body = response.json()
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                raise MalformedResponse("subscription list is not an ARM list")
            for sub in body["value"]:
                sid = sub.get("subscriptionId") if isinstance(sub, dict) else None
                state = str(sub.get("state") or "").lower() if isinstance(sub, dict) else ""
                if isinstance(sid, str) and state in ("enabled", "warning", "pastdue", ""):
                    found.append(sid.lower())
            url = body.get("nextLink") if isinstance(body.get("nextLink"), str) else None
            pages += 1
        return sorted(set(found))

    def preflight(self, subscription_id: str) -> None:
        """GET /subscriptions/{id}: tells an unknown subscription or a missing role apart from an
        empty one before anything is collected."""
        from azure.core.rest import HttpRequest
        client = self.resources(subscription_id)
        response = client.send_request(HttpRequest("GET", f"{self.endpoint}/subscriptions/{subscription_id}?api-version=2022-12-01"))
        response.raise_for_status()


# --------------------------------------------------------------------------- classification
def classify(exc: BaseException) -> tuple[str, str]:
    """(ARM error code, one-line message) for coverage records. Never includes headers or tokens."""
    if isinstance(exc, ScanError):
        return exc.code, _one_line(str(exc))
    if isinstance(exc, ClientAuthenticationError) and getattr(exc, "status_code", None) is None:
        return "CredentialUnavailable", _one_line(str(exc).splitlines()[0] if str(exc) else "no credential")
    if isinstance(exc, HttpResponseError):
        status = exc.status_code
        code = ""
        message = ""
        err = getattr(exc, "error", None)
        if err is not None and getattr(err, "code", None):
            code, message = err.code, err.message or ""
        else:
            code, message = _code_from_body(exc)
        if not code:
            code = {429: "TooManyRequests", 401: "AuthenticationFailed", 403: "AuthorizationFailed",
                    404: "ResourceNotFound"}.get(status or 0, f"HTTP{status}" if status else "HttpError")
        if isinstance(exc, (DecodeError, DeserializationError)) or code == "MalformedResponse":
            return "MalformedResponse", _one_line(f"response could not be parsed: {exc.message if hasattr(exc, 'message') else exc}")
        return code, _one_line(message or exc.reason or str(exc))
    if isinstance(exc, (DecodeError, DeserializationError)):
        return "MalformedResponse", _one_line(f"response could not be parsed: {exc}")
    if isinstance(exc, ServiceResponseError):
        return "Timeout", _one_line(f"no complete response: {exc}")
    if isinstance(exc, ServiceRequestError):
        return "ConnectionError", _one_line(f"could not connect: {exc}")
    if isinstance(exc, AzureError):
        return type(exc).__name__, _one_line(str(exc))
    if isinstance(exc, (ValueError, TypeError, KeyError, AttributeError, json.JSONDecodeError)):
        return "MalformedResponse", _one_line(f"unexpected response shape: {type(exc).__name__}: {exc}")
    return type(exc).__name__, _one_line(str(exc))


def _code_from_body(exc: HttpResponseError) -> tuple[str, str]:
    try:
        body = json.loads(exc.response.text()) if exc.response is not None else None
    except Exception:
        return "", ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("code") or ""), str(body["error"].get("message") or "")
    return "", ""


def _one_line(text: str, limit: int = 300) -> str:
    # Redacted before it is cut: a token cut in half would no longer be recognised.
    text = redact.redact(" ".join(str(text).split()))
    return text[: limit - 1] + "…" if len(text) > limit else text


def is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, ResourceNotFoundError) or (isinstance(exc, HttpResponseError) and exc.status_code == 404)
