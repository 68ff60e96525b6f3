"""vcrpy configuration shared by the collector tests and scripts/record_cassettes.py.

Recording pipeline (what a recording goes through before it is written):
  scrub        drop every header but a few harmless ones (Authorization never reaches disk), and
               redact bearer tokens, JWTs, SAS signatures and account keys anywhere in a body
  pseudonymise subscription and tenant GUIDs become stable fakes (every occurrence, in URIs and
               bodies), so ids still join; the recorded host becomes management.azure.com
  match        method + path + query without api-version (an SDK bump must not orphan cassettes)
  freeze       the collectors take `now` as a parameter; tests pass FROZEN_NOW, so the backup-job
               $filter dates are the same as when the cassette was recorded
Playback runs with record_mode "none" and a fake token; sockets are blocked by the tests.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import vcr

ROOT = Path(__file__).resolve().parents[1]
CASSETTES = ROOT / "fixtures" / "cassettes"
PUBLIC_HOST = "management.azure.com"
FROZEN_NOW = "2026-11-22T06:00:00Z"
FAKE_TOKEN = "playback-token-not-a-secret"

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_SUB_IN_PATH = re.compile(r"(?i)/subscriptions/(" + _GUID + ")")
# Directory GUIDs a vault GET or job carries (identity.tenantId/principalId, clientId, objectId):
# pseudonymised like subscriptions, so a recording names no real tenant or principal.
_TENANT_FIELD = re.compile(r'(?i)"(?:tenantId|principalId|clientId|objectId)"\s*:\s*"(' + _GUID + ')"')
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_SECRETS = [
    (re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]{8,}"), "Bearer REDACTED"),
    (re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*"), "REDACTED.JWT"),
    (re.compile(r"(?i)([?&](?:amp;)?sig=)[^&\"'\s]+"), r"\1REDACTED"),
    (re.compile(r"(?i)(AccountKey=)[^;\"'\s]+"), r"\1REDACTED"),
    (re.compile(r'(?i)("(?:primaryKey|secondaryKey|storageAccountKey|accessKey)"\s*:\s*")[^"]+'), r"\1REDACTED"),
]
KEEP_RESPONSE_HEADERS = {"content-type", "retry-after"}


def pseudonym(guid: str) -> str:
    """A stable fake for a subscription/tenant GUID: same input, same fake, in every cassette."""
    if guid.lower().startswith("00000000-0000-4000-8000-"):
        return guid.lower()  # already a pseudonym (or the simulator's fake ids)
    digest = hashlib.sha256(guid.lower().encode()).hexdigest()
    return f"00000000-0000-4000-8000-{digest[:12]}"


def _guids(text: str) -> set[str]:
    return {m.group(1).lower() for m in _SUB_IN_PATH.finditer(text)} | \
           {m.group(1).lower() for m in _TENANT_FIELD.finditer(text)}


def scrub_text(text: str, source_hosts: tuple[str, ...] = ()) -> str:
    for pattern, repl in _SECRETS:
        text = pattern.sub(repl, text)
    text = _EMAIL.sub("user@contoso.example", text)  # alert e-mail settings, job owners
    for guid in _guids(text):
        text = re.sub(re.escape(guid), pseudonym(guid), text, flags=re.IGNORECASE)
    for host in source_hosts:
        text = text.replace(host, PUBLIC_HOST)
    return text


def make_vcr(source_hosts: tuple[str, ...] = (), record_mode: str = "none", library: Path = CASSETTES) -> vcr.VCR:
    def before_request(request):
        request.headers = {k: v for k, v in request.headers.items() if k.lower() in ("accept",)}
        request.uri = scrub_text(request.uri, source_hosts)
        parts = urlsplit(request.uri)
        request.uri = urlunsplit(("https", PUBLIC_HOST, parts.path, parts.query, ""))
        return request

    def before_response(response):
        response["headers"] = {k: v for k, v in response["headers"].items() if k.lower() in KEEP_RESPONSE_HEADERS}
        body = response.get("body", {}).get("string")
        if isinstance(body, bytes):
            body = body.decode("utf-8", errors="replace")
        if isinstance(body, str):
            response["body"]["string"] = scrub_text(body, source_hosts).encode()
        return response

    def query_without_api_version(r1, r2):
        def q(r):
            return sorted((k, v) for k, v in parse_qsl(urlsplit(r.uri).query, keep_blank_values=True)
                          if k != "api-version")
        assert q(r1) == q(r2)

    v = vcr.VCR(cassette_library_dir=str(library), record_mode=record_mode,
                before_record_request=before_request, before_record_response=before_response,
                decode_compressed_response=True, serializer="yaml")
    v.register_matcher("query_sans_api_version", query_without_api_version)
    v.match_on = ["method", "scheme", "host", "path", "query_sans_api_version"]
    return v


def canonical_query(uri: str) -> str:
    parts = urlsplit(uri)
    return urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))


def load_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))
