"""The one place that decides what is a secret, for every channel that carries user data.

Usage::

    redact_text("curl -u bob:hunter2 'https://h/x?access_token=abc'")
    # "curl -u bob:[REDACTED] 'https://h/x?access_token=[REDACTED]'"
    redact_argv(["mysql", "-phunter2", "shop"])     # ['mysql', '-p[REDACTED]', 'shop']
    redact_data({"pwd": "x", "note": "key sk-proj-..."})   # structured tool arguments/results

Three layers, each a list of small rules (see the README's redaction section):

* **names** -- a value is secret when it sits under a secret-like name: a dict key, a
  ``NAME=value`` / ``name: value`` pair, a ``--flag value``, a URL query parameter or an
  HTTP header line (``is_secret_name``);
* **command lines** -- per-program conventions where a short flag carries a password
  (``mysql -pX``, ``sshpass -p X``, ``docker login -p X``, ``redis-cli -a X``, ``curl -u u:p``);
  a short flag of a program not listed here is left alone (``ssh -p 22``, ``mkdir -p d``);
* **shapes** -- published key and token formats (``ghp_``, ``AKIA``, ``sk-``, JWTs, PEM
  private keys, ...) and credentials inside URLs, wherever they appear.

Stdlib only, so importing it costs nothing.  ``configure`` adds the user's key names
(``MCPTRACE_REDACT_KEYS``) and patterns (``MCPTRACE_REDACT_PATTERNS``).
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mcptrace.record import vocabulary


class _Pattern:
    """A module pattern, compiled at its first use, when it becomes the module's global
    itself: most processes never redact with most of them, and all ≈40 compiled at import
    were ≈13 ms of every activated process's start-up."""

    __slots__ = ("_arguments", "_name")

    def __init__(self, name: str, pattern: str, flags: int) -> None:
        self._name = name
        self._arguments = (pattern, flags)

    def __getattr__(self, attribute: str) -> Any:
        compiled = re.compile(*self._arguments)
        globals()[self._name] = compiled  # later uses find the compiled pattern directly
        return getattr(compiled, attribute)


def _lazy(name: str, pattern: str, flags: int = 0) -> re.Pattern[str]:
    return _Pattern(name, pattern, flags)  # type: ignore[return-value]


REDACTED = "[REDACTED]"
TRUNCATION_MARK = "...[truncated]"
MAX_ARGS = 64
MAX_ARG_CHARS = 512
# Text beyond this is cut before the rules run (they are linear, but a megabyte of tool
# output should not cost milliseconds); what is cut is never shown.
MAX_SCANNED_CHARS = 64 * 1024
_CUT_MARGIN = 8 * 1024  # scanned past the cut (redact_text)
_MAX_DEPTH = 32

# ---------------------------------------------------------------- names

# Parts of a name (lower-case, separators removed) that make it secret wherever they occur.
_SECRET_PARTS = (
    "password",
    "passwd",
    "passphrase",
    "passcode",
    "pincode",
    "secret",
    "apikey",
    "accesskey",
    "privatekey",
    "privkey",
    "credential",
    "cookie",
    "authorization",
    "authtoken",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "bearer",
    "sessionid",
    "sessid",
    "sessionkey",
    "sessiontoken",
    "accountkey",
    "sharedaccess",
    "signingkey",
    "encryptionkey",
    "masterkey",
    "xsrf",
    "csrf",
    "connectionstring",
)
# Whole words (from snake_case, kebab-case, dotted or camelCase names) that are secret ...
_SECRET_WORDS = frozenset(
    {
        "pwd",
        "passwd",
        "passwords",
        "token",
        "tokens",
        "cred",
        "creds",
        "jwt",
        "totp",
        "signature",
        "signatures",
        "hmac",
        "dsn",
        "apikeys",
        "secrets",
    }
)
# ... and words that are secret only as the last word: "pass" but not "pass_rate",
# "session" but not "session_count".
_SECRET_LAST_WORDS = frozenset(
    {"pw", "pass", "auth", "authn", "authz", "oauth", "otp", "pin", "sig", "session"}
)
# "<qualifier> key(s)" is secret: api_key, private-key, clientKey, AccountKey ...
_KEY_QUALIFIERS = frozenset(
    {
        "api",
        "access",
        "secret",
        "private",
        "signing",
        "encryption",
        "decryption",
        "master",
        "client",
        "account",
        "auth",
        "session",
        "license",
        "deploy",
        "ssh",
        "gpg",
        "pgp",
        "subscription",
        "shared",
        "app",
        "consumer",
        "root",
        "admin",
        "storage",
        "webhook",
        "service",
        "user",
        "x",
    }
)
# "max_tokens", "token_count", "input_tokens": counts of language-model tokens, not secrets.
_TOKEN_COUNT_WORDS = frozenset(
    {
        "max",
        "min",
        "num",
        "count",
        "total",
        "input",
        "output",
        "prompt",
        "completion",
        "limit",
        "usage",
        "cached",
        "reasoning",
        "budget",
        "length",
        "per",
        "type",
        "types",
        "used",
        "remaining",
        "estimated",
        "context",
    }
)
# ... but not PRIMARY_KEY, SORT_KEY, GPG_PUBLIC_KEY, S3_OBJECT_KEY
_NOT_SECRET_KEY_WORDS = frozenset(
    {
        "public",
        "pub",
        "primary",
        "foreign",
        "sort",
        "partition",
        "cache",
        "hash",
        "object",
        "s3",
        "hot",
        "routing",
        "lookup",
        "idempotency",
        "row",
        "index",
        "id",
        "unique",
        "composite",
        "dedup",
        "group",
        "shard",
        "range",
        "map",
        "file",
        "path",
    }
)
_NOT_PASS = ("bypass", "compass", "overpass", "underpass", "multipass", "onepass", "twopass")
# Query parameters that carry credentials although their name is not secret elsewhere.
_SECRET_QUERY_NAMES = frozenset({"key", "code", "sig", "sign", "apikey", "pw"})
_WORDS = _lazy("_WORDS", r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")

_extra_keys: tuple[str, ...] = ()
_extra_patterns: tuple[re.Pattern[str], ...] = ()


def configure(keys: Iterable[str] = (), patterns: Iterable[str | re.Pattern[str]] = ()) -> None:
    """Add the user's secret key names and value patterns (replaces earlier additions)."""
    global _extra_keys, _extra_patterns
    _extra_keys = tuple(_squash(key) for key in keys if _squash(key))
    _extra_patterns = tuple(re.compile(p) if isinstance(p, str) else p for p in patterns)
    _secret_name_cache.clear()


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_secret_name_cache: dict[str, bool] = {}


def is_secret_name(name: str, extra_keys: Iterable[str] = ()) -> bool:
    """Whether a value stored under ``name`` (key, option, parameter, header) is secret."""
    extras = tuple(extra_keys)
    if not extras:
        cached = _secret_name_cache.get(name)
        if cached is not None:
            return cached
    found = _judge_name(name, extras)
    if not extras and len(_secret_name_cache) < 4096:
        _secret_name_cache[name] = found
    return found


def _judge_name(name: str, extras: tuple[str, ...]) -> bool:
    if not name.isascii():  # ｐａｓｓｗｏｒｄ, pass<ZWSP>word: judged as they read
        name = _plain_unicode(name)
    squashed = _squash(name)
    if not squashed:
        return False
    if any(extra in squashed for extra in (*_extra_keys, *(_squash(e) for e in extras)) if extra):
        return True
    words = [word.lower() for word in _WORDS.findall(name)]
    if any(part in squashed for part in _SECRET_PARTS):
        return True
    if words and words[-1] in _SECRET_LAST_WORDS:
        return True
    for index, word in enumerate(words):
        if word in _SECRET_WORDS:
            if word in ("token", "tokens") and _TOKEN_COUNT_WORDS.intersection(words):
                continue
            return True
        if word in ("key", "keys") and index > 0 and words[index - 1] in _KEY_QUALIFIERS:
            return True
    # STRIPE_KEY, OPENAI_API_KEYS: an environment-style name ending in KEY holds a key
    if (
        len(words) > 1
        and words[-1] in ("key", "keys")
        and name.isupper()
        and not _NOT_SECRET_KEY_WORDS.intersection(words)
    ):
        return True
    # keytool -storepass, -keypass, PGPASS
    return squashed.endswith("pass") and not squashed.endswith(_NOT_PASS)


def _is_secret_query_name(name: str) -> bool:
    return name.lower() in _SECRET_QUERY_NAMES or is_secret_name(name)


# Options named like secrets that take no secret value (a file, a prompt, stdin ...).
_NOT_A_VALUE_WORDS = frozenset(
    {
        "file",
        "path",
        "stdin",
        "fd",
        "dir",
        "env",
        "prompt",
        "command",
        "cmd",
        "helper",
        "policy",
        "length",
        "type",
        "min",
        "max",
        "expiry",
        "ttl",
        "store",
        "required",
        "id",
        "name",
        "user",
        "username",
    }
)


def _names_a_secret_value(name: str) -> bool:
    """``password``, ``api-key``, but not ``password-file`` or ``credential.helper``."""
    if not is_secret_name(name):
        return False
    words = [word.lower() for word in _WORDS.findall(name)]
    return not (len(words) > 1 and words[-1] in _NOT_A_VALUE_WORDS)


def _is_secret_flag(flag: str) -> bool:
    """``--password``, ``--api-key``, ``-storepass``: an option whose value is a secret."""
    name = flag.lstrip("-")
    if len(name) < 3 or name.startswith(("no-", "no_")):
        return False
    return _names_a_secret_value(name)


# ---------------------------------------------------------------- shapes

_KEY_FORMATS = [
    # cloud providers
    r"(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}",
    r"AIza[0-9A-Za-z_-]{20,}",  # Google API key (35 after the prefix)
    r"ya29\.[0-9A-Za-z_-]{20,}",  # Google OAuth access token
    r"1//0[0-9A-Za-z_-]{30,}",  # Google OAuth refresh token
    r"GOCSPX-[0-9A-Za-z_-]{20,}",  # Google OAuth client secret
    r"[0-9A-Za-z_~.-]{3}8Q~[0-9A-Za-z_~.-]{31,34}",  # Azure AD client secret
    r"do[opr]_v1_[a-f0-9]{64}",  # DigitalOcean
    r"dapi[a-f0-9]{32}(?:-\d)?",  # Databricks
    r"hv[sbr]\.[A-Za-z0-9_-]{20,}",  # HashiCorp Vault
    r"[a-z0-9]{14}\.atlasv1\.[a-z0-9_=-]{60,}",  # Terraform Cloud
    r"pul-[a-f0-9]{40}",  # Pulumi
    r"fo1_[A-Za-z0-9_-]{30,}",  # Fly.io
    r"sbp_[a-f0-9]{40}",  # Supabase
    r"(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdzE)[A-Za-z0-9/+=]{80,}",  # AWS STS session token
    r"LTAI[A-Za-z0-9]{12,30}",  # Alibaba Cloud AccessKey id
    r"AKID[A-Za-z0-9]{13,40}",  # Tencent Cloud SecretId
    r"AQVN[A-Za-z0-9_-]{35,38}",  # Yandex Cloud API key
    r"YC[A-Za-z0-9_-]{38}",  # Yandex Cloud static access key
    r"t1\.[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9_-]{86}={0,2}",  # Yandex Cloud IAM token
    r"SCW[A-Z0-9]{17}",  # Scaleway access key
    r"GOOG1[A-Z0-9]{50,70}",  # Google Cloud Storage HMAC access id
    r"HRKU-AA[0-9A-Za-z_-]{58}",  # Heroku
    r"nf[pcoub]_[A-Za-z0-9_-]{36,}",  # Netlify
    r"napi_[a-z0-9]{64}",  # Neon
    r"rnd_[A-Za-z0-9]{28,}",  # Render
    r"dose[a-f0-9]{32}",  # Databricks OAuth secret
    r"v1\.0-[a-f0-9]{24}-[a-f0-9]{146}",  # Cloudflare Origin CA key
    # an Azure key that names its service (storage, Cosmos DB, Functions, Search, ...)
    r"[A-Za-z0-9/+]{70,80}(?:\+ASt|AzFu|AzSe|ACDb|\+ASb|\+AEh|AIoT|APIM|\+ACR|\+ARm)"
    r"[A-Za-z0-9/+]{5,6}={0,2}",
    r"[A-Za-z0-9]{52}JQQJ9[9DH][A-Za-z0-9][A-L][A-Za-z0-9]{16}[A-Za-z][A-Za-z0-9]{7}(?:[A-Za-z0-9]{2}==)?",
    r"ATBB[A-Za-z0-9_=.-]{28,}",  # Bitbucket app password
    # source hosting and package registries
    r"gh[pousr]_[A-Za-z0-9]{20,}",
    r"github_pat_[A-Za-z0-9_]{20,}",
    r"gl(?:pat|dt|ptt|rt|cbt|soat|ft|imt|agent|oas|ffct)-[A-Za-z0-9_-]{12,}",
    r"GR1348941[A-Za-z0-9_-]{20,}",  # GitLab runner registration
    r"npm_[A-Za-z0-9]{16,}",
    r"pypi-[A-Za-z0-9_-]{16,}",
    r"dckr_pat_[A-Za-z0-9_-]{20,}",  # Docker Hub
    r"ATATT3[A-Za-z0-9_=-]{20,}",  # Atlassian API token
    r"ATCTT3[A-Za-z0-9_=-]{20,}",
    r"oy2[a-z0-9]{43}",  # NuGet
    r"rubygems_[a-f0-9]{48}",
    # chat and messaging
    r"xox[abposre]-[A-Za-z0-9-]{10,}",  # Slack
    r"xapp-\d-[A-Za-z0-9-]{10,}",
    r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+",
    r"discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]+",
    r"[MN][A-Za-z0-9]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,}",  # Discord bot token
    r"\d{8,10}:AA[A-Za-z0-9_-]{33}",  # Telegram bot token
    # AI and API platforms
    r"sk-ant-[A-Za-z0-9_-]{16,}",  # Anthropic
    r"sk-(?=[A-Za-z_-]*\d)[A-Za-z0-9_-]{10,}",  # OpenAI-style: sk-proj-, sk-svcacct-, sk-or-v1-
    r"(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}",  # Stripe
    r"whsec_[A-Za-z0-9]{20,}",  # Stripe webhook secret
    r"hf_[A-Za-z0-9]{20,}",  # Hugging Face
    r"gsk_[A-Za-z0-9]{30,}",  # Groq
    r"xai-[A-Za-z0-9]{30,}",
    r"pplx-[A-Za-z0-9]{30,}",
    r"pcsk_[A-Za-z0-9_]{40,}",  # Pinecone
    r"lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}",  # LangSmith
    r"tvly-(?:dev-|prod-)?[A-Za-z0-9]{32}",  # Tavily
    r"fc-[a-f0-9]{32}",  # Firecrawl
    r"e2b_[a-f0-9]{40}",  # E2B
    r"sk\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{16,}",  # Mapbox secret token
    r"sl\.(?:u\.)?[A-Za-z0-9_-]{130,}",  # Dropbox
    r"prtapi_[a-f0-9]{32}",  # Shopify partner
    r"FLWSECK(?:_TEST)?-[a-f0-9]{32}-X",  # Flutterwave
    r"rzp_(?:live|test)_[A-Za-z0-9]{14}",  # Razorpay key id
    r"re_[A-Za-z0-9]{8}_[A-Za-z0-9]{24}",  # Resend
    r"AAAA[A-Za-z0-9_-]{7}:APA91b[A-Za-z0-9_-]{100,}",  # Firebase Cloud Messaging server key
    r"xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}",  # Brevo (Sendinblue)
    r"pat-(?:na|eu|ap)1-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}",  # HubSpot
    r"tfp_[A-Za-z0-9_-]{40,}",  # Typeform
    r"r8_[A-Za-z0-9]{30,}",  # Replicate
    r"lin_api_[A-Za-z0-9]{30,}",  # Linear
    r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}",  # Postman
    r"SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}",  # SendGrid
    r"SK[0-9a-fA-F]{32}",  # Twilio API key
    r"key-[0-9a-f]{32}",  # Mailgun
    r"[0-9a-f]{32}-us\d{1,2}",  # Mailchimp
    r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",  # Shopify
    r"sq0(?:atp|csp)-[A-Za-z0-9_-]{22,}",  # Square
    r"EAAA[A-Za-z0-9_-]{60}",  # Square access token
    r"(?:ntn|secret)_[A-Za-z0-9]{40,}",  # Notion
    r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}",  # Airtable
    r"glsa_[A-Za-z0-9_]{32}_[a-f0-9]{8}",  # Grafana service account
    r"glc_[A-Za-z0-9+/=_-]{32,}",  # Grafana Cloud
    r"sntry[su]_[A-Za-z0-9+/=_-]{30,}",  # Sentry
    r"NRAK-[A-Z0-9]{27}",  # New Relic
    r"figd_[A-Za-z0-9_-]{30,}",  # Figma
    r"dp\.(?:pt|st|ct|sa|scim|audit)\.[A-Za-z0-9]{40,}",  # Doppler
    r"AGE-SECRET-KEY-1[0-9A-Z]{58}",  # age
    r"ops_[A-Za-z0-9_-]{30,}",
    # generic token shapes
    r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",  # JWT (also alg=none)
]
_PEM_PRIVATE_KEY = _lazy(
    "_PEM_PRIVATE_KEY",
    r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
    r"(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$)",
)
_KEYS = _lazy(
    "_KEYS",
    r"(?<![A-Za-z0-9_])(?:" + "|".join(_KEY_FORMATS) + r")"
    # AWS secret access key: 40 base64 characters mixing cases and digits (checked below)
    r"|(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])",
)
# Every key format is a run of these characters: the formats are only tried on such runs
# (trying a long alternation at every position of a text costs milliseconds per 4 kB).
_KEY_RUN = _lazy("_KEY_RUN", r"[A-Za-z0-9_\-.~+/=:]{16,}")
# Authorization scheme values outside a header line: "Bearer abc.def"
_AUTH_VALUE = _lazy(
    "_AUTH_VALUE",
    r"(?i)(?<![\w-])(bearer|basic|digest|negotiate)\s+(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=])"
    r"[A-Za-z0-9._~+/=-]{8,}",
)


# PuTTY .ppk: the private lines follow headers, up to the MAC line (or the end of the text)
_PUTTY_PRIVATE_KEY = _lazy(
    "_PUTTY_PRIVATE_KEY", r"PuTTY-User-Key-File-\d+:[\s\S]*?(?:Private-MAC:[^\r\n]*|$)"
)


def _redact_shapes(text: str) -> str:
    if "-----BEGIN" in text:
        text = _PEM_PRIVATE_KEY.sub(REDACTED, text)
    if "PuTTY-User-Key-File-" in text:
        text = _PUTTY_PRIVATE_KEY.sub(REDACTED, text)
    text = _KEY_RUN.sub(lambda run: _KEYS.sub(_replace_shape, run.group(0)), text)
    lowered = text.lower()
    if any(scheme in lowered for scheme in ("bearer", "basic", "digest", "negotiate")):
        text = _AUTH_VALUE.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return text


_AWS_SECRET_SHAPE = _lazy("_AWS_SECRET_SHAPE", r"[A-Za-z0-9/+]{40}")


def _replace_shape(match: re.Match[str]) -> str:
    found = match.group(0)
    # hex digests, paths and words of 40 characters stay
    if (
        len(found) == 40
        and _AWS_SECRET_SHAPE.fullmatch(found)
        and not (
            any(c.isupper() for c in found)
            and any(c.islower() for c in found)
            and any(c.isdigit() for c in found)
        )
    ):
        return found
    return REDACTED


# ---------------------------------------------------------------- URLs

# scheme://user:password@host -> scheme://host (the user name goes too: it may be a token)
# the scheme as libraries write it too: SQLAlchemy's oracle+cx_oracle://, mysql+mysql_connector://
_URL_USERINFO = _lazy("_URL_USERINFO", r"(?i)\b([a-z][a-z0-9+._-]{1,30}://)[^\s/?#@\"'<>]*@")
# ?name=value / &name=value / #name=value / ;name=value (also HTML-escaped &amp;)
# (also percent-encoded: ?access%5Ftoken=x, a whole query encoded once more: %3Ftoken%3Dx)
_QUERY_PARAM = _lazy(
    "_QUERY_PARAM",
    r"((?:[?#&;]|&amp;|%(?:26|3[Ff]|23|3[Bb]))"
    r"((?:[A-Za-z0-9_.\-\[\]]|%(?!26|3[Dd])[0-9A-Fa-f]{2}){1,64})"
    r"(?:=|%3[Dd]))([^&#\s\"'<>]*)",
)


def _replace_query(match: re.Match[str]) -> str:
    value = match.group(3)
    name = match.group(2)
    if "%" in name:
        name = urllib.parse.unquote(name)
    if value and value != REDACTED and _is_secret_query_name(name):
        return match.group(1) + REDACTED
    if "%" in value:  # a query encoded inside a value: ?next=%2Fcb%3Ftoken%3Dx
        return match.group(1) + _QUERY_PARAM.sub(_replace_query, value)
    return match.group(0)


# A path segment after one named like a secret: /token/<value>, /api-keys/<value>.  Only a
# value shaped like a token (letters and digits, 16 or more) goes: /token/refresh stays.
_PATH_SECRET = _lazy(
    "_PATH_SECRET",
    r"(/([\w-]{1,40})/)"
    r"(?=[A-Za-z0-9._~%+=:-]{0,200}\d)(?=[A-Za-z0-9._~%+=:-]{0,200}[A-Za-z])"
    r"([A-Za-z0-9._~%+=:-]{12,512})(?=[/?#\s\"'<>)\],;]|$)"
    # Telegram bot API: /bot<id>:<token>/method
    r"|(/bot)(\d{5,12}:[A-Za-z0-9_-]{8,})",
)


# ---------------------------------------------------------------- name = value in text

# .netrc: machine HOST login USER password SECRET
_NETRC = _lazy("_NETRC", r"(\blogin[ \t]+\S+[ \t]+(?:password|passwd|account)[ \t]+)(\S+)")
_HEADER_NAMES = (
    r"proxy-authorization|authorization|set-cookie|cookie|x-api-key|api-key|apikey"
    r"|x-auth-token|x-access-token|x-amz-security-token|x-goog-api-key|private-token"
    r"|x-gitlab-token|x-vault-token|x-csrf-token|x-xsrf-token|x-session-token|x-secret"
    r"|ocp-apim-subscription-key|x-functions-key|x-figma-token|x-shopify-access-token"
    r"|x-rapidapi-key|x-auth-key|x-auth-email-token|x-sentry-auth|x-honeycomb-team"
)
# A header line: the whole rest of the line is the credential ("Bearer x", "a=1; b=2").
_HEADER_NAME_SET = frozenset(_HEADER_NAMES.split("|"))
_HEADER_NAME = _lazy(
    "_HEADER_NAME", r"(?:(?<![\w\-\\])|(?<=\\[nrt]))([A-Za-z][\w-]{1,40})[ \t]*:[ \t]*"
)
_HEADER_VALUE = _lazy("_HEADER_VALUE", r"[^\r\n\"'\\]+")


def _redact_header_lines(text: str) -> str:
    pieces: list[str] = []
    position = 0
    while True:
        match = _HEADER_NAME.search(text, position)
        if match is None:
            break
        pieces.append(text[position : match.end()])
        position = match.end()
        if match.group(1).lower() in _HEADER_NAME_SET:
            value = _HEADER_VALUE.match(text, position)
            if value is not None and not value.group(0).startswith(REDACTED):
                pieces.append(REDACTED)
                position = value.end()
    pieces.append(text[position:])
    return "".join(pieces)


_AUTH_SCHEMES = r"(?:Bearer|Basic|Token|Digest|Negotiate|Bot|ApiKey|SSWS|OAuth|AWS4-HMAC-SHA256)"
# key=value, key: value, "key": "value", key='value', -Dkey=value, KEY={va;lue}
# Values are bounded (a value longer than this is cut at the bound, redacted all the same)
# so that no input makes the scan quadratic.
_QUOTED_VALUE = (
    r"\[REDACTED\]|\[[^\]\n]{0,4096}\]|\"(?:[^\"\\\n]|\\.){0,4096}\"|'[^'\n]{0,4096}'"
    r"|\{[^}\n]{0,4096}\}"
    # \"value\" inside an escaped string (\\\"value\\\" when escaped twice ...)
    r"|(?P<escaped_quote>\\+[\"'])(?:(?!\\+[\"']).){0,400}(?P=escaped_quote)"
    rf"|{_AUTH_SCHEMES}[ \t]+[^\s\"',;&}}\]<>)\\]{{1,4096}}"
)
_UNQUOTED_CHAR = r"(?:\[REDACTED\]|[^\s\"',;&}\]<>)\\])"
# name=value / name: value, the name at the start of a word (or after a \n escape in JSON)
_ASSIGNMENT = _lazy(
    "_ASSIGNMENT",
    r"(?:(?<![\w.\-/\\])|(?<=\\[nrt]))(-{0,2}[A-Za-z_$@][\w.\-]{0,80}?)"
    # a quoted name may have its colon on the next line (pretty-printed JSON); a name may be
    # a subscript (os.environ["API_KEY"]="x"); "=" may be percent-encoded (password%3Dx) or a
    # Ruby/PHP/Perl hash arrow ("password" => "x")
    r"(?:(?P<colon>\\*[\"']\]?\s{0,8}:(?!//)\s{0,8}|\]?[ \t]*:(?!//)[ \t]*)"
    r"|(?P<equals>(?:\\*[\"'])?\]?[ \t]*(?:=>?|%3[Dd])[ \t]*))",
)
# after "name:" a value runs to the end of the phrase (a passphrase has spaces) ...
_COLON_VALUE = _lazy(
    "_COLON_VALUE", rf"{_QUOTED_VALUE}|(?:{_UNQUOTED_CHAR}|[ \t]){{0,512}}{_UNQUOTED_CHAR}"
)
# ... after "name=" to the next space (NAME=x command)
_EQUALS_VALUE = _lazy("_EQUALS_VALUE", rf"{_QUOTED_VALUE}|{_UNQUOTED_CHAR}{{1,4096}}")
_NOT_SECRET_VALUES = frozenset(
    {REDACTED, "true", "false", "null", "None", "True", "False", '""', "''", "{}", "[]"}
)


# Every secret name contains one of these (lower-case); a text without any has no pair to read.
_NAME_HINTS = (
    "pass",
    "pw",
    "secret",
    "token",
    "key",
    "auth",
    "cred",
    "cookie",
    "sess",
    "sig",
    "jwt",
    "otp",
    "pin",
    "hmac",
    "dsn",
    "bearer",
    "csrf",
    "xsrf",
    "connection",
    "priv",
)


def _may_name_a_secret(text: str) -> bool:
    lowered = text.lower()
    return bool(_extra_keys) or any(hint in lowered for hint in _NAME_HINTS)


_MAX_STRUCTURE_CHARS = 16 * 1024


def _balanced_end(text: str, start: int) -> int | None:
    """The end of the ``{...}`` / ``[...]`` starting at ``start`` (strings skipped)."""
    closing = {"{": "}", "[": "]"}
    stack: list[str] = []
    quote = ""
    index = start
    limit = min(len(text), start + _MAX_STRUCTURE_CHARS)
    while index < limit:
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in ('"', "'"):
            quote = char
        elif char in closing:
            stack.append(closing[char])
        elif stack and char == stack[-1]:
            stack.pop()
            if not stack:
                return index + 1
        index += 1
    return None


# Python's b'…', r'…', u'…' before a quoted value (the repr of bytes: {b'x-api-key': b'…'})
_STRING_PREFIX = _lazy("_STRING_PREFIX", r"(?:[bB][rR]?|[rR][bB]?|[uU])(?=['\"])")
# YAML: after "password:" an indicator (|, >-, |2) or nothing, then the value on the lines
# below, indented deeper than the name (or a list at the name's own indent)
_YAML_BLOCK = _lazy(
    "_YAML_BLOCK", r"(?:[|>][1-9+-]{0,2})?[ \t]*(?:#[^\n]{0,400})?\r?\n(?=[ \t]*-|[ \t]+\S)"
)
_YAML_BLOCK_LINES = 4096


def _yaml_block_end(text: str, name_start: int, start: int) -> int:
    """The end of the lines from ``start`` that belong to the YAML value of the name at
    ``name_start``: indented deeper than its line, or list items at its indent."""
    line_start = text.rfind("\n", 0, name_start) + 1
    name_line = text[line_start:name_start]
    indent = len(name_line) - len(name_line.lstrip(" \t"))
    position = end = start
    for _ in range(_YAML_BLOCK_LINES):
        if position >= len(text):
            break
        newline = text.find("\n", position)
        line_end = len(text) if newline < 0 else newline
        line = text[position:line_end]
        body = line.lstrip(" \t")
        depth = len(line) - len(body)
        if body and not (depth > indent or (depth == indent and body.startswith("-"))):
            break
        if body:
            end = line_end
        position = line_end + 1
    return end


def _redact_assignments(text: str) -> str:
    """``name=value`` / ``name: value`` pairs whose name is secret.  Only a secret name's
    value is read, so a pair whose name is not (``--from-literal=password=x``,
    ``"config": {"password": "x"}``) is scanned on inside, and the scan stays linear."""
    pieces: list[str] = []
    position = 0
    while True:
        match = _ASSIGNMENT.search(text, position)
        if match is None:
            break
        pieces.append(text[position : match.end()])
        position = match.end()
        if not _names_a_secret_value(match.group(1).lstrip("-")):
            continue
        if text[position : position + 1] in ("{", "["):  # a structure, perhaps over lines
            end = _balanced_end(text, position)
            if end is not None:
                pieces.append(REDACTED)
                position = end
                continue
        if match.group("colon"):
            block = _YAML_BLOCK.match(text, position)
            if block is not None:  # password: |  (or the value on the lines below)
                end = _yaml_block_end(text, match.start(1), block.end())
                if end > block.end():
                    first_line = text[block.end() : end]
                    indent = first_line[: len(first_line) - len(first_line.lstrip(" \t"))]
                    pieces.append(block.group(0) + indent + REDACTED)
                    position = end
                    continue
        prefix = _STRING_PREFIX.match(text, position)
        if prefix is not None:  # password=b'x': a bytes (raw, unicode) literal's prefix
            pieces.append(prefix.group(0))
            position = prefix.end()
        value_pattern = _COLON_VALUE if match.group("colon") else _EQUALS_VALUE
        value_match = value_pattern.match(text, position)
        if value_match is None:
            continue
        value = value_match.group(0)
        if value in _NOT_SECRET_VALUES or value.startswith(REDACTED):
            continue
        if value[:1] in ("'", '"') and len(value) >= 2:
            pieces.append(f"{value[0]}{REDACTED}{value[0]}")
        else:
            pieces.append(REDACTED)
        position = value_match.end()
    pieces.append(text[position:])
    return "".join(pieces)


# An error message naming what it quotes: 'bad key Zq8v...', 'invalid token "abc123..."'.
# Only a value shaped like a credential (8+ characters mixing letters and digits, no path,
# not all hex of a digest length) goes: "token count 12", "password reset" stay.
_PROSE_SECRET = _lazy(
    "_PROSE_SECRET",
    r"(?i)(?=[akpstc])(?<![\w-])((?:api[ _-]?)?"
    r"(?:key|token|password|passwd|secret|passphrase|credential|apikey)"
    r"s?(?:[ \t]+(?:is|was|of|=))?[ \t]+)([\"'`]?)"
    r"(?=[A-Za-z0-9_+/=.~-]{0,200}\d)(?=[A-Za-z0-9_+/=.~-]{0,200}[A-Za-z])"
    r"([A-Za-z0-9_+=.~-][A-Za-z0-9_+/=.~-]{7,511})(?![A-Za-z0-9_+/=.~-])\2",
)
_DIGEST = _lazy("_DIGEST", r"[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128}")
_UUID = _lazy("_UUID", r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def _replace_prose_secret(match: re.Match[str]) -> str:
    value = match.group(3)
    if value.startswith(REDACTED) or _DIGEST.fullmatch(value) or _UUID.fullmatch(value):
        return match.group(0)
    if "." in value and not any(c.isupper() for c in value) and value.count("-") == 0:
        return match.group(0)  # a file or host name: key.pem, token.example.com
    quote = match.group(2)
    return f"{match.group(1)}{quote}{REDACTED}{quote}"


_FILE_NAME = _lazy("_FILE_NAME", r"[\w-]+\.[A-Za-z]{1,5}")


_PATH_HINTS = ("token", "secret", "passw", "key", "sig", "auth")
_ORACLE_HINTS = ("jdbc:oracle", "sqlplus", "sqlldr", "expdp", "impdp", "rman", "dgmgrl")


_PATH_SECRET_NAME = _lazy(
    "_PATH_SECRET_NAME",
    r"(?i)(?:token|tokens|secret|secrets|password|passwd|apikey|api[_-]key|api[_-]keys|key|keys"
    r"|sig|signature|auth)$",
)


def _replace_path_secret(match: re.Match[str]) -> str:
    if match.group(1) is None:
        return match.group(4) + REDACTED  # /bot<id>:<token>
    if not _PATH_SECRET_NAME.search(match.group(2)) or _FILE_NAME.fullmatch(match.group(3)):
        return match.group(0)  # /keys/server-2024.pem
    return match.group(1) + REDACTED


# Oracle logins: sqlplus scott/tiger@orcl, jdbc:oracle:thin:scott/tiger@host:1521:orcl
_ORACLE_LOGIN = _lazy(
    "_ORACLE_LOGIN",
    r"(?i)((?:jdbc:oracle:\w+:|\b(?:sqlplus|sqlldr|expdp|impdp|rman|dgmgrl)"
    r"(?:\s+-\w+)*\s+[\"']?)[\w$#.]{1,60}/)([^@\s/\"']{1,256})(@)",
)

# A value named by a sibling: <password>x</password>, <add key="ApiKey" value="x"/>,
# <entry name="password">x</entry>, {"name": "DB_PASSWORD", "value": "x"} (Kubernetes env,
# AWS parameter lists, .NET settings)
_XML_ELEMENT = _lazy(
    "_XML_ELEMENT", r"<([A-Za-z_][\w.\-:]{0,80})((?:\s[^<>]{0,400})?)>([^<]{1,4096})</\1\s*>"
)
_NAME_ATTRIBUTE = _lazy("_NAME_ATTRIBUTE", r"(?i)\b(?:name|key)\s*=\s*[\"']([\w.\-:]{1,80})[\"']")
_VALUE_ATTRIBUTE = _lazy("_VALUE_ATTRIBUTE", r"(?i)(\bvalue\s*=\s*)([\"'])([^\"'<>]{0,4096})\2")
_NAME_VALUE_JSON = _lazy(
    "_NAME_VALUE_JSON",
    r"(?i)((\\*[\"'])(?:name|key|parameterkey|variable|header|field)\2\s*:\s*\2([\w.\-:]{1,80})\2"
    r"\s*,\s*\2(?:value|val|secretvalue|parametervalue)\2\s*:\s*)(\2(?:(?!\2).){0,4096}?\2)",
)
_XML_TAG = _lazy("_XML_TAG", r"<[A-Za-z_][^<>]{0,600}>")
_PASSWORD_INPUT = _lazy("_PASSWORD_INPUT", r"(?i)\btype\s*=\s*[\"']?password\b")
_XML_TAG_NAME = _lazy("_XML_TAG_NAME", r"[A-Za-z_][\w.\-:]{0,80}")


def _redact_named_values(text: str) -> str:
    if "<" in text:
        text = _XML_ELEMENT.sub(_replace_xml_element, text)
        text = _XML_TAG.sub(_replace_xml_tag, text)
    if ('"' in text or "'" in text) and "val" in text.lower():
        text = _NAME_VALUE_JSON.sub(_replace_name_value_json, text)
    return text


def _replace_xml_element(match: re.Match[str]) -> str:
    tag, attributes, content = match.group(1), match.group(2), match.group(3)
    named = _NAME_ATTRIBUTE.search(attributes) if attributes else None
    name = named.group(1) if named is not None else tag.rsplit(":", 1)[-1]
    if content.strip() in ("", REDACTED) or not _names_a_secret_value(name):
        return match.group(0)
    return f"<{tag}{attributes}>{REDACTED}</{tag}>"


def _replace_xml_tag(match: re.Match[str]) -> str:
    tag = match.group(0)
    named = _NAME_ATTRIBUTE.search(tag)
    # <add key="ApiKey" value="x"/>, and the element's own name: <Password value="x"/>
    name = named.group(1) if named is not None else _XML_TAG_NAME.match(tag, 1)
    if isinstance(name, re.Match):
        name = name.group(0).rsplit(":", 1)[-1]
    if _PASSWORD_INPUT.search(tag):  # <input type="password" value="x">
        name = "password"
    if not name or not _names_a_secret_value(name):
        return tag
    return _VALUE_ATTRIBUTE.sub(
        lambda m: (
            m.group(0)
            if m.group(3) in ("", REDACTED)
            else f"{m.group(1)}{m.group(2)}{REDACTED}{m.group(2)}"
        ),
        tag,
    )


def _replace_name_value_json(match: re.Match[str]) -> str:
    quote, value = match.group(2), match.group(4)
    if value[len(quote) : -len(quote)] in ("", REDACTED) or not _names_a_secret_value(
        match.group(3)
    ):
        return match.group(0)
    return f"{match.group(1)}{quote}{REDACTED}{quote}"


# SQL: CREATE USER a IDENTIFIED BY 'x', ALTER USER … IDENTIFIED WITH plugin BY 'x',
# SET PASSWORD FOR a = 'x' (the PASSWORD 'x' forms are name-value pairs already)
_SQL_PASSWORD = _lazy(
    "_SQL_PASSWORD",
    r"(?i)(\bIDENTIFIED(?:[ \t]+WITH[ \t]+[\w'\"`]{1,80})?[ \t]+BY[ \t]+(?:PASSWORD[ \t]+)?"
    r"|\bSET[ \t]+PASSWORD[ \t]+FOR[ \t]+[^=\n]{1,200}?=[ \t]*(?:PASSWORD[ \t]*\([ \t]*)?)"
    r"(['\"]?)(?!\[REDACTED\])(?(2)(?:(?!\2)[^\n]){1,4096}|[^\s;'\")]{1,4096})\2",
)

# ["X-Api-Key", "value"], ('password', 'value'): a header or setting as a pair
_PAIR = _lazy(
    "_PAIR", r"([\[(]\s*(\\*[\"']))([\w.\-]{1,80})(\2\s*,\s*)(\2)((?:(?!\2).){0,4096}?)\2"
)


def _replace_pair(match: re.Match[str]) -> str:
    quote, value = match.group(2), match.group(6)
    if value == REDACTED or not is_secret_name(match.group(3)):
        return match.group(0)
    return f"{match.group(1)}{match.group(3)}{match.group(4)}{quote}{REDACTED}{quote}"


# ---------------------------------------------------------------- command lines

# How a program takes a secret in a short option: "attached" (-pSECRET only: a bare -p
# prompts), "value" (-p SECRET or -pSECRET), "userpass" (user:SECRET), "user%pass",
# "user,pass".  Programs not listed here keep their short options: ssh -p 22, docker run -p.
_MYSQL = {"-p": "attached"}


def _each(programs: tuple[str, ...], flags: dict[str, str]) -> dict[str, dict[str, str]]:
    return {program: dict(flags) for program in programs}


_PROGRAM_FLAGS: dict[str, dict[str, str]] = {
    **_each(
        (
            "mysql",
            "mysqldump",
            "mysqladmin",
            "mysqlimport",
            "mysqlshow",
            "mysqlcheck",
            "mysqlpump",
            "mysqlslap",
            "mysqlbinlog",
            "mariadb",
            "mariadb-dump",
            "mariadb-admin",
            "mysqlsh",
        ),
        _MYSQL,
    ),
    "sshpass": {"-p": "value"},
    **_each(("redis-cli", "keydb-cli", "valkey-cli"), {"-a": "value"}),
    "openssl": {"-k": "value"},
    **_each(
        ("curl",),
        {
            "-u": "userpass",
            "--user": "userpass",
            "-U": "userpass",
            "--proxy-user": "userpass",
            "-b": "value",
            "--cookie": "value",
            "-E": "userpass",
            "--cert": "userpass",
        },
    ),
    **_each(("http", "https", "xh", "xhs"), {"-a": "userpass", "--auth": "userpass"}),
    **_each(
        ("mongo", "mongosh", "mongodump", "mongorestore", "mongoexport", "mongoimport"),
        {"-p": "value"},
    ),
    **_each(("sqlcmd", "bcp", "osql", "isql"), {"-P": "value"}),
    **_each(("zip", "unzip", "zipcloak", "funzip"), {"-P": "value"}),
    **_each(("7z", "7za", "7zz", "7zr"), {"-p": "attached"}),
    **_each(
        (
            "ldapsearch",
            "ldapadd",
            "ldapmodify",
            "ldapdelete",
            "ldapwhoami",
            "ldapcompare",
            "ldapmodrdn",
            "ldapexop",
            "ldapurl",
        ),
        {"-w": "value"},
    ),
    "ldappasswd": {"-w": "value", "-s": "value", "-a": "value"},
    **_each(
        ("smbclient", "rpcclient", "smbmap", "smbget", "smbcacls", "net"),
        {"-U": "user%pass", "--user": "user%pass"},
    ),
    **_each(("crackmapexec", "netexec", "nxc", "hydra"), {"-p": "value"}),
    "lftp": {"-u": "user,pass"},
    "ncftp": {"-p": "value"},
    "az": {"-p": "value"},
    "ipmitool": {"-P": "value"},
    "snmpwalk": {"-A": "value", "-X": "value", "-c": "value"},
    "snmpget": {"-A": "value", "-X": "value", "-c": "value"},
    "rabbitmqadmin": {"-p": "value"},
    "influx": {"-t": "value"},
    "cqlsh": {"-p": "value"},
    "twine": {"-p": "value"},
    "pgcli": {},
    **_each(("sqlplus", "sqlldr", "expdp", "impdp", "rman", "dgmgrl"), {}),
}
_ORACLE_PROGRAMS = frozenset({"sqlplus", "sqlldr", "expdp", "impdp", "rman", "dgmgrl"})
_ORACLE_WORD = _lazy("_ORACLE_WORD", r"[\w$#.]{1,60}/([^@\s/]{1,256})(?:@|$)")
# Registry logins: -p is the password only after the word "login" (docker run -p is a port).
_LOGIN_PROGRAMS = frozenset(
    {"docker", "podman", "nerdctl", "buildah", "skopeo", "oras", "helm", "crane", "regctl"}
)
_LOGIN_FLAGS = {"-p": "value", "-u": "user"}
# <program> ... login <TOKEN>: the token is a positional argument
_POSITIONAL_LOGIN = frozenset({"vault", "heroku", "fly", "flyctl", "doctl", "gh", "hcloud"})
# aws configure set aws_secret_access_key X, npm config set //reg/:_authToken X
_SETTERS = frozenset({"set", "config", "--global", "--local", "--system", "setx", "--add"})
_SEPARATORS = frozenset({";", "|", "||", "&&", "&", "|&", "(", ")", "{", "}", "`", "$("})
_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "ash", "fish", "busybox"})


def _program(word: str) -> str:
    name = word.rsplit("/", 1)[-1].rsplit("\\", 1)[-1].lower()
    return name[:-4] if name.endswith(".exe") else name


# bare user:password@host (sshpass-style tools, impacket "domain/user:pass@host")
_URI_SCHEMES = frozenset({"mailto", "sip", "sips", "xmpp", "im", "pres", "news", "tel"})
_BARE_USERINFO = _lazy("_BARE_USERINFO", r"^([\w.+\\/-]+):([^@\s/:]+)@[\w.\[\]-]+")


def _secret_spans(words: list[str]) -> dict[int, tuple[int, int]]:
    """For each word index holding a secret, the character span of the secret in that word.

    ``words`` is one command line split into words (quotes removed); separators such as
    ``;`` or ``|`` start a new command.
    """
    spans: dict[int, tuple[int, int]] = {}
    program = ""
    flags: dict[str, str] = {}
    logged_in = False
    htpasswd_batch = False
    positionals = 0  # htpasswd -b FILE USER PASSWORD (-nb: USER PASSWORD)
    pending: str | None = None  # how the next word is secret
    for index, word in enumerate(words):
        if word in _SEPARATORS:
            program, flags, pending, logged_in, htpasswd_batch = "", {}, None, False, False
            positionals = 0
            continue
        if not word:
            continue
        kind, pending = pending, None
        # --password --host x: the option took no value, --host is read as usual
        if kind is not None and not (kind == "flag value" and word.startswith("--")):
            span = _value_span("value" if kind == "flag value" else kind, word)
            if span is not None:
                spans[index] = span
            continue
        name = _program(word) if "://" not in word else ""
        if name in _PROGRAM_FLAGS or name in _LOGIN_PROGRAMS or name in _POSITIONAL_LOGIN:
            if name != program:
                program, flags, logged_in = name, dict(_PROGRAM_FLAGS.get(name, {})), False
            continue
        if name == "htpasswd":
            program, flags, positionals = name, {}, 0
            continue
        if word == "login" and (program in _LOGIN_PROGRAMS or program in _POSITIONAL_LOGIN):
            logged_in = True
            if program in _LOGIN_PROGRAMS:
                flags = {**flags, **_LOGIN_FLAGS}
            continue
        if program == "htpasswd":
            if word.startswith("-"):
                htpasswd_batch = htpasswd_batch or "b" in word
                positionals = positionals - 1 if "n" in word else positionals
                continue
            positionals += 1
            if htpasswd_batch and positionals == 3:
                spans[index] = (0, len(word))
            continue
        if word.startswith("-"):
            flag, equals, _value = word.partition("=")
            kind = flags.get(flag)
            if kind == "user":
                continue
            if kind is not None:
                if equals:
                    span = _value_span(kind, word[len(flag) + 1 :])
                    if span is not None:
                        spans[index] = (span[0] + len(flag) + 1, span[1] + len(flag) + 1)
                elif kind != "attached":  # a bare mysql -p prompts for the password
                    pending = kind
                continue
            attached = _attached(flags, word)
            if attached is not None:
                spans[index] = attached
                continue
            if _is_secret_flag(flag):
                if equals:
                    spans[index] = (len(flag) + 1, len(word))
                else:
                    pending = "flag value"
                continue
        elif program in _POSITIONAL_LOGIN and logged_in and "=" not in word:
            spans[index] = (0, len(word))
            logged_in = False
            continue
        elif (
            index > 0
            and words[index - 1] in _SETTERS
            and "=" not in word
            and _names_a_secret_value(word.rsplit("/", 1)[-1])
        ):
            pending = "value"
            continue
        if program in _ORACLE_PROGRAMS:  # sqlplus scott/tiger@orcl
            oracle = _ORACLE_WORD.match(word)
            if oracle is not None:
                spans[index] = oracle.span(1)
                continue
        if word.startswith("pass:"):  # openssl -passin pass:SECRET
            spans[index] = (5, len(word))
            continue
        bare = _BARE_USERINFO.match(word)
        if bare is not None and bare.group(1).lower() not in _URI_SCHEMES and "@sha" not in word:
            spans[index] = (bare.start(2), bare.end(2))
    return spans


def _attached(flags: dict[str, str], word: str) -> tuple[int, int] | None:
    """``-pSECRET`` for a program whose ``-p`` takes a secret."""
    if len(word) <= 2 or word.startswith("--"):
        return None
    kind = flags.get(word[:2])
    if kind in ("attached", "value"):
        return (2, len(word))
    if kind is not None and kind != "user":
        span = _value_span(kind, word[2:])
        return (span[0] + 2, span[1] + 2) if span is not None else None
    return None


def _value_span(kind: str, value: str) -> tuple[int, int] | None:
    if kind in ("value", "attached"):
        return (0, len(value)) if value else None
    separator = {"userpass": ":", "user%pass": "%", "user,pass": ","}.get(kind)
    if separator is None or separator not in value:
        return None
    return (value.index(separator) + 1, len(value))


# A word of a command line or of free text.  Read twice: once as a shell would (quoted parts
# are one word), once splitting at quotes and brackets too (a Python list repr of an argv in
# an error message: "Command '['mysql', '-pX']' returned ...").
_SHELL_WORD = _lazy(
    "_SHELL_WORD", r"(?:[^\s\"'\\;|&()`]|\\.|\"(?:[^\"\\]|\\.)*\"?|'[^']*'?)+|[;|&()`]+"
)
_LOOSE_WORD = _lazy("_LOOSE_WORD", r"[^\s\"'\\;|&()`\[\]]+|[;|&()`]+")
_QUOTES = _lazy("_QUOTES", r"\"((?:[^\"\\]|\\.)*)\"?|'([^']*)'?|\\(.)")
_PUNCTUATION = "[](),"


def _unquote(raw: str) -> str:
    return _QUOTES.sub(lambda m: m.group(1) or m.group(2) or m.group(3) or "", raw)


def _redact_command_words(text: str, word_pattern: re.Pattern[str]) -> str:
    """Command-line conventions applied to every line of ``text`` (a shell string, a log
    line quoting a command, a Python list repr of an argv)."""
    matches: list[re.Match[str]] = []
    words: list[str] = []
    previous_end = 0
    for match in word_pattern.finditer(text):
        if "\n" in text[previous_end : match.start()] and words:
            matches.append(match)  # a new line is a new command
            words.append(";")
        previous_end = match.end()
        matches.append(match)
        words.append(_unquote(match.group(0)).strip(_PUNCTUATION))
    spans = _secret_spans(words)
    if not spans:
        return text
    pieces: list[str] = []
    cursor = 0
    for index in sorted(spans):
        match = matches[index]
        raw, word = match.group(0), words[index]
        start, end = spans[index]
        secret = word[start:end]
        if not secret or secret.strip("[]") == "REDACTED":
            continue
        position = raw.find(secret, min(start, len(raw)))
        if position < 0:
            position = raw.find(secret)
        if position >= 0:
            replaced = raw[:position] + REDACTED + raw[position + len(secret) :]
        else:  # quoting split the secret: the whole word goes
            replaced = word[:start] + REDACTED
        pieces.append(text[cursor : match.start()])
        pieces.append(replaced)
        cursor = match.end()
    pieces.append(text[cursor:])
    return "".join(pieces)


def _might_be_command(text: str) -> bool:
    return (
        "-" in text
        or "@" in text
        or "login" in text
        or "pass:" in text
        or "set" in text
        or "config" in text
    )


# ---------------------------------------------------------------- public functions


def redact_text(text: str) -> str:
    """``text`` with every secret the rules recognise replaced by ``[REDACTED]``."""
    if not text:
        return text
    if len(text) <= MAX_SCANNED_CHARS:
        return _redact_disguised(_redact_text(text, 2), 2)
    # Cut after redaction, never before: a cut through a secret leaves its head, which no
    # rule knows any more (``ghp_`` and 18 of its 36 characters, ``https://u:pw`` without
    # its ``@``).  The rules run on a margin past the cut; the window's own end may cut a
    # secret too, so the redacted window loses its last half margin (the redaction may have
    # shortened what comes before it).
    window = text[: MAX_SCANNED_CHARS + _CUT_MARGIN]
    cleaned = _redact_disguised(_redact_text(window, 2), 2)
    return cleaned[: min(MAX_SCANNED_CHARS, len(cleaned) - _CUT_MARGIN // 2)] + TRUNCATION_MARK


# ---------------------------------------------------------------- disguises
#
# A secret can be written so that no rule sees it: escaped (``"pass\u0077ord": "x"``,
# ``\x70\x61ss…``, ``password&#61;x``, ``\nghp_…``), percent-encoded twice
# (``%253Ftoken%253Dx``) or glued to a percent escape (``%22ghp_…``), spelled
# with look-alike or invisible characters (fullwidth ``ｐａｓｓｗｏｒｄ``, a zero-width space
# inside the name, a no-break space after the colon) or wrapped in base64.  Each is decoded
# and the rules run on the plain form; where they find a secret the plain, redacted form is
# kept (the disguise is not worth keeping), otherwise the text stays exactly as written.

_ESCAPE = _lazy("_ESCAPE", r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|x([0-9A-Fa-f]{2})|([nrt]))")
_CONTROL_ESCAPES = {"n": "\n", "r": "\r", "t": "\t"}
# a percent escape glued to a token hides it from the rules (``%22ghp_…``: ``2`` before it)
# and a text percent-encoded whole (%67%68%70%5F…) is no plainer: any escape is decoded
_PERCENT_ESCAPE = _lazy("_PERCENT_ESCAPE", r"%[0-9A-Fa-f]{2}")
_ENTITY_HINT = _lazy("_ENTITY_HINT", r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z]{2,8});")
# base64 (standard or URL-safe) long enough to hold a name and a value
_BASE64_RUN = _lazy("_BASE64_RUN", r"[A-Za-z0-9+/_-]{20,}={0,2}")  # leftmost-longest: a whole run
_NOT_A_WORD = _lazy("_NOT_A_WORD", r"[0-9+/_=-]")
# base64 wrapped at a fixed width (MIME, PEM-like bodies, `base64` at 76): a name and its
# value may sit on two lines, so the lines are decoded as one run
_BASE64_LINES = _lazy(
    "_BASE64_LINES",
    r"(?<![A-Za-z0-9+/])(?:[A-Za-z0-9+/]{20,}(?:\r?\n|(?:\\r)?\\n)){1,4096}[A-Za-z0-9+/]{1,}={0,2}",
)
_LINE_BREAKS = _lazy("_LINE_BREAKS", r"\\[rn]|[\r\n]")
# hex-encoded text (32+ digits; digests decode to binary and are left alone)
_HEX_RUN = _lazy("_HEX_RUN", r"(?<![0-9A-Za-z])(?:[0-9A-Fa-f]{2}){16,}(?![0-9A-Za-z])")


def _unescape(text: str) -> str:
    def char(match: re.Match[str]) -> str:
        if match.group(4):  # ``\n`` written out before a token (JSON text of a string)
            return _CONTROL_ESCAPES[match.group(4)]
        code = int(match.group(1) or match.group(2) or match.group(3), 16)
        return chr(code) if code <= 0x10FFFF else match.group(0)

    return _ESCAPE.sub(char, text)


def _plain_unicode(text: str) -> str:
    import unicodedata

    folded = unicodedata.normalize("NFKC", text)
    return "".join(c for c in folded if unicodedata.category(c) != "Cf")


def _disguises(text: str) -> Iterable[Callable[[str], str]]:
    if not text.isascii():
        yield _plain_unicode
    if "\\" in text and _ESCAPE.search(text):
        yield _unescape
    if "&" in text and _ENTITY_HINT.search(text):
        import html

        yield html.unescape
    if "%" in text and _PERCENT_ESCAPE.search(text):
        yield urllib.parse.unquote


def _redact_disguised(text: str, depth: int) -> str:
    for decode in _disguises(text):
        try:
            plain = decode(text)
        except (ValueError, OverflowError):
            continue
        if plain != text:
            cleaned = _redact_text(plain, 2)
            if depth:
                cleaned = _redact_disguised(cleaned, depth - 1)
            if cleaned != plain:
                text = cleaned
    if depth and len(text) >= 20:
        if "\n" in text or "\\n" in text:
            text = _BASE64_LINES.sub(lambda run: _redact_base64(run, depth - 1), text)
        text = _BASE64_RUN.sub(lambda run: _redact_base64(run, depth - 1), text)
        text = _HEX_RUN.sub(lambda run: _redact_hex(run, depth - 1), text)
    return text


def _redact_hex(run: re.Match[str], depth: int) -> str:
    """A hex run that decodes to text holding a secret is removed whole (a digest decodes
    to binary and stays)."""
    found = run.group(0)
    try:
        decoded = bytes.fromhex(found).decode("utf-8")
    except ValueError:
        return found
    if not decoded.isprintable():
        return found
    cleaned = _redact_disguised(_redact_text(decoded, 2), depth)
    return found if cleaned == decoded else REDACTED


def _redact_base64(run: re.Match[str], depth: int) -> str:
    """A base64 run whose decoded text holds a secret is removed whole."""
    found = run.group(0)
    import base64
    import binascii

    body = _LINE_BREAKS.sub("", found).rstrip("=")
    if len(body) % 4 == 1 or not _NOT_A_WORD.search(found):
        return found  # not base64, or a plain long word
    padded = body + "=" * (-len(body) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return found
    if not decoded.isprintable() and not decoded.replace("\n", "").replace("\t", "").isprintable():
        return found  # binary: a digest, a key id, compressed data
    cleaned = _redact_disguised(_redact_text(decoded, 2), depth)
    return found if cleaned == decoded else REDACTED


def _redact_text(text: str, quoting_levels: int) -> str:
    # 'a'"'"'b' and 'a'\''b' (a single quote inside single quotes) hide values from the rules
    if quoting_levels and ("'\"'\"'" in text or "'\\''" in text):
        text = _redact_quoted_words(text, quoting_levels - 1)
    text = _redact_shapes(text)  # first: a PEM block spans many words
    if _might_be_command(text):
        text = _redact_command_words(text, _SHELL_WORD)
        text = _redact_command_words(text, _LOOSE_WORD)
    if "://" in text:
        text = _URL_USERINFO.sub(r"\1", text)
    if "=" in text or "%3" in text:
        text = _QUERY_PARAM.sub(_replace_query, text)
    if "/" in text:
        lowered = text.lower()
        if "/bot" in lowered or any(hint in lowered for hint in _PATH_HINTS):
            text = _PATH_SECRET.sub(_replace_path_secret, text)
        if "@" in text and any(hint in lowered for hint in _ORACLE_HINTS):
            text = _ORACLE_LOGIN.sub(lambda m: m.group(1) + REDACTED + m.group(3), text)
    if "login" in text:
        text = _NETRC.sub(lambda m: m.group(1) + REDACTED, text)
    if ":" in text and _may_name_a_secret(text):
        text = _redact_header_lines(text)
    if ("=" in text or ":" in text or "%3" in text) and _may_name_a_secret(text):
        text = _redact_assignments(text)
    if "," in text:
        text = _PAIR.sub(_replace_pair, text)
    if "IDENTIFIED" in text.upper() or "PASSWORD FOR" in text.upper():
        text = _SQL_PASSWORD.sub(lambda m: m.group(1) + m.group(2) + REDACTED + m.group(2), text)
    if _may_name_a_secret(text):
        text = _redact_named_values(text)
        text = _PROSE_SECRET.sub(_replace_prose_secret, text)
    for pattern in _extra_patterns:
        text = pattern.sub(REDACTED, text)
    return text


def _redact_quoted_words(text: str, quoting_levels: int) -> str:
    """Rules applied once more to each quoted shell word with its quotes removed: a secret
    in ``echo 'db_password = '"'"'x'"'"''`` is only visible unquoted."""

    def unquoted(match: re.Match[str]) -> str:
        raw = match.group(0)
        # only the shell's ways of putting a quote inside quotes hide a value from the rules
        if "'\"'\"'" not in raw and "'\\''" not in raw:
            return raw
        plain = _unquote(raw)
        cleaned = _redact_text(plain, quoting_levels)
        return raw if cleaned == plain else _requote(cleaned, raw[:1])

    return _SHELL_WORD.sub(unquoted, text)


def _requote(text: str, quote: str) -> str:
    if quote == '"' and not any(c in text for c in '"\\$`'):
        return f'"{text}"'
    if "'" not in text:
        return f"'{text}'"
    return "'" + text.replace("'", "'\"'\"'") + "'"


# IP addresses and short plain host names: nothing to find (the sensor sees one per send)
_PLAIN_HOST = _lazy("_PLAIN_HOST", r"[0-9A-Fa-f.:%]{1,45}|[A-Za-z0-9.-]{1,15}")


def redact_host(host: str) -> str:
    """A host name or address (``server.address``): ``AKIA….exfil.example`` is a secret
    leaving by DNS, ``user:pass@host`` a URL's credentials."""
    return host if _PLAIN_HOST.fullmatch(host) else redact_text(host)


# The distinctive starts of published key formats: a path holding none (nearly every path) is
# returned after these substring tests, without a regular expression.
_PATH_KEY_STARTS = (
    "AKIA",
    "ASIA",
    "AIza",
    "ya29.",
    "GOCSPX-",
    "gh",
    "github_pat_",
    "gl",
    "xox",
    "xapp-",
    "npm_",
    "pypi-",
    "sk-",
    "sk_",
    "rk_",
    "whsec_",
    "hf_",
    "gsk_",
    "xai-",
    "eyJ",
    "dckr_pat_",
    "SG.",
    "hvs.",
    "AGE-SECRET",
    "-----BEGIN",
    "LTAI",
    "AKID",
    "HRKU-",
    "pcsk_",
    "lsv2_",
    "tvly-",
)


_PATH_KEY_START = _lazy("_PATH_KEY_START", "|".join(re.escape(start) for start in _PATH_KEY_STARTS))


def redact_path(path: str) -> str:
    """A file path with published key formats replaced (``/tmp/sk-live-…``, a file named after
    a GitHub token); names and conventions are not read in paths, so ordinary paths, hashes
    and ids stay as written."""
    if not _PATH_KEY_START.search(path):  # (one scan for all of them, not one per start)
        return path
    return _redact_shapes(path)


def redact_url(url: str) -> str:
    """A URL without user info and with secret query/fragment values (and path-embedded
    tokens such as webhook URLs) replaced; everything else kept as written."""
    return redact_text(url)


def redact_argv(argv: Iterable[Any]) -> list[str]:
    """Arguments with secret values replaced; at most ``MAX_ARGS`` kept, each cut to
    ``MAX_ARG_CHARS`` after redaction (so a cut never reveals a part of a secret)."""
    words: list[str] = []
    for index, arg in enumerate(argv):
        if index >= MAX_ARGS:
            words.append(f"… ({index}+ arguments)")
            break
        words.append(arg if isinstance(arg, str) else _as_text(arg))
    spans = _secret_spans(words)
    result: list[str] = []
    for index, word in enumerate(words):
        span = spans.get(index)
        if span is not None:
            word = word[: span[0]] + REDACTED + word[span[1] :]
        word = redact_text(word)
        if len(word) > MAX_ARG_CHARS:
            word = word[:MAX_ARG_CHARS] + "…"
        result.append(word)
    return result


def redact_command_line(command: str) -> str:
    """A shell command line (``os.system``) with its secrets replaced, cut after redaction."""
    command = redact_text(command)
    limit = MAX_ARG_CHARS * 4
    return command if len(command) <= limit else command[:limit] + "…"


def redact_data(value: Any, extra_keys: Iterable[str] = (), _depth: int = 0) -> Any:
    """A copy of JSON-like ``value`` with secrets replaced: values under secret-named keys
    (at any depth, whole lists and dicts included), dict keys that are themselves secrets,
    and secrets inside strings."""
    if _depth > _MAX_DEPTH:
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    extras = tuple(extra_keys)
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        secret_sibling = _names_a_secret_sibling(value)
        for key, item in value.items():
            name = key if isinstance(key, str) else str(key)
            if (
                item not in (None, "")
                and not isinstance(item, bool)
                and (is_secret_name(name, extras) or (secret_sibling and name in _VALUE_FIELDS))
            ):
                item = REDACTED
            else:
                item = redact_data(item, extras, _depth + 1)
            safe_name = redact_text(name)
            if safe_name != name and safe_name in result:
                safe_name = f"{safe_name}#{len(result)}"
            result[safe_name] = item
        return result
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        if len(items) == 2 and isinstance(items[0], (bytes, bytearray)):
            items[0] = _as_text(items[0])  # [(b"x-api-key", b"...")]: raw headers
        if (
            len(items) == 2
            and isinstance(items[0], str)
            and items[1] is not None
            and _PLAIN_NAME.fullmatch(items[0])
            and is_secret_name(items[0], extras)
        ):  # ("Authorization", "Bearer x"): a header or setting as a pair
            return [items[0], REDACTED]
        if items and all(isinstance(item, str) for item in items):
            # a list of strings may be an argv: ["mysql", "-pX"] needs the program
            for index, (start, end) in _secret_spans(items).items():
                items[index] = items[index][:start] + REDACTED + items[index][end:]
        return [redact_data(item, extras, _depth + 1) for item in items]
    return redact_text(_as_text(value))


_PLAIN_NAME = _lazy("_PLAIN_NAME", r"[\w.\-]{1,80}")
# {"name": "DB_PASSWORD", "value": "x"}: the value is named by its sibling
_NAME_FIELDS = (
    "name",
    "Name",
    "key",
    "Key",
    "ParameterKey",
    "variable",
    "Variable",
    "header",
    "Header",
    "field",
    "Field",
)
_VALUE_FIELDS = frozenset({"value", "Value", "val", "ParameterValue", "SecretValue", "secretValue"})


def _names_a_secret_sibling(mapping: Mapping[Any, Any]) -> bool:
    for field in _NAME_FIELDS:
        named = mapping.get(field)
        if isinstance(named, str) and _PLAIN_NAME.fullmatch(named):
            return _names_a_secret_value(named)
    return False


def redact_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Attribute values from user data, each string (and string in a list) redacted."""
    result: dict[str, Any] = {}
    for key, value in attributes.items():
        if isinstance(value, str):
            value = redact_text(value)
        elif isinstance(value, (list, tuple)):
            value = [redact_text(item) if isinstance(item, str) else item for item in value]
        result[key] = value
    return result


# resource attributes that are a command line (the process detector's)
_RESOURCE_ARGV = frozenset({vocabulary.PROCESS_COMMAND_ARGS})
_RESOURCE_COMMAND_LINES = frozenset({vocabulary.PROCESS_COMMAND_LINE, vocabulary.PROCESS_COMMAND})


def redact_resource(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Resource attributes (``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_SERVICE_NAME``, detectors such
    as ``process``): a value under a secret-like name goes whole, a command line by its
    conventions, every other string by the text rules."""
    result: dict[str, Any] = {}
    for key, value in attributes.items():
        if is_secret_name(key) or is_secret_name(key.rpartition(".")[2]):
            result[key] = REDACTED
        elif key in _RESOURCE_ARGV and isinstance(value, (list, tuple)):
            result[key] = redact_argv(value)
        elif key in _RESOURCE_COMMAND_LINES and isinstance(value, str):
            result[key] = redact_command_line(value)
        elif isinstance(value, str):
            result[key] = redact_text(value)
        elif isinstance(value, (list, tuple)):
            result[key] = [redact_text(item) if isinstance(item, str) else item for item in value]
        else:
            result[key] = value
    return result


def truncate(text: str, max_bytes: int) -> str:
    """Cut ``text`` to at most ``max_bytes`` UTF-8 bytes (mark included), never mid-character."""
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return text
    room = max(0, max_bytes - len(TRUNCATION_MARK))
    return encoded[:room].decode("utf-8", errors="ignore") + TRUNCATION_MARK


def _as_text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return os.fsdecode(bytes(value))
    try:
        return os.fsdecode(os.fspath(value))
    except TypeError:
        try:
            return str(value)
        except Exception:
            return f"<{type(value).__name__}>"


Redactor = Callable[[str], str]
