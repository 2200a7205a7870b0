"""Settings read from the environment, with embedded defaults for development."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("PLIXO_INSTANCE_DIR", ROOT / "instance"))


class ConfigError(RuntimeError):
    """The environment does not describe a runnable app."""


def _development_secret_key() -> str:
    # Development keeps a random key on disk so sessions survive restarts without a key in code.
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    try:
        return int(raw) if raw else default
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'plixo.db'}"
    # Hosting providers hand out postgres:// URLs; SQLAlchemy wants an explicit driver.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _require_for_production(overrides: dict, names: tuple[str, ...]) -> None:
    missing = [name for name in names if not (overrides.get(name) or os.environ.get(name))]
    if missing:
        raise ConfigError(f"{', '.join(missing)} must be set when PLIXO_ENV=production")


def load_config(overrides: dict | None = None) -> dict:
    """Build the Flask config from the environment, then apply explicit overrides."""
    overrides = overrides or {}
    env = overrides.get("PLIXO_ENV") or os.environ.get("PLIXO_ENV", "development")
    secret_key = overrides.get("SECRET_KEY") or os.environ.get("SECRET_KEY")
    if not secret_key:
        if env == "production":
            raise ConfigError("SECRET_KEY must be set when PLIXO_ENV=production")
        secret_key = _development_secret_key()
    production = env == "production"
    if production:
        _require_for_production(overrides, ("REDIS_URL", "ENCRYPTION_KEYS", "PUBLIC_BASE_URL"))
    config = {
        "PLIXO_ENV": env,
        "SECRET_KEY": secret_key,
        "ENCRYPTION_KEYS": os.environ.get("ENCRYPTION_KEYS", ""),
        "SQLALCHEMY_DATABASE_URI": _database_url(),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "INSTANCE_DIR": str(INSTANCE_DIR),
        "UPLOAD_DIR": os.environ.get("UPLOAD_DIR", str(INSTANCE_DIR / "uploads")),
        "SESSION_COOKIE_NAME": "plixo_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        "IDLE_TIMEOUT_MINUTES": _int("IDLE_TIMEOUT_MINUTES", 60),
        "PERMANENT_SESSION_LIFETIME": _int("SESSION_MAX_HOURS", 12) * 3600,
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute"),
        # The platform endpoint's signing secret: events of every connected account are signed with it.
        "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET", ""),
        "STRIPE_WEBHOOK_TOLERANCE": _int("STRIPE_WEBHOOK_TOLERANCE", 300),
        # The platform's Connect application: its secret key and client id (ca_…). Without them a workspace can
        # still connect with a restricted key of its own.
        "STRIPE_SECRET_KEY": os.environ.get("STRIPE_SECRET_KEY", ""),
        "STRIPE_CLIENT_ID": os.environ.get("STRIPE_CLIENT_ID", ""),
        # Where the Stripe library sends its requests; tests point them all at a fake Stripe on loopback.
        "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE", "https://api.stripe.com"),
        "STRIPE_CONNECT_BASE": os.environ.get("STRIPE_CONNECT_BASE", "https://connect.stripe.com"),
        # Stripe takes file uploads (dispute evidence) at an address of their own.
        "STRIPE_FILES_BASE": os.environ.get("STRIPE_FILES_BASE", "https://files.stripe.com"),
        # The address payers reach the app at: links in e-mails (pay, portal) and Stripe's return URLs use it.
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "PORTAL_LINK_DAYS": _int("PORTAL_LINK_DAYS", 60),
        "PORTAL_SESSION_MINUTES": _int("PORTAL_SESSION_MINUTES", 30),
        # Per payer (customer) and, separately, per address: what one link or one machine may do in the portal.
        "PORTAL_RATE_LIMIT": os.environ.get("PORTAL_RATE_LIMIT", "20 per minute"),
        "PORTAL_PAGE_RATE_LIMIT": os.environ.get("PORTAL_PAGE_RATE_LIMIT", "60 per minute"),
        "RATELIMIT_HEADERS_ENABLED": True,  # Retry-After tells a locked-out client when to come back
        "INVITE_VALID_DAYS": _int("INVITE_VALID_DAYS", 7),
        "IMPORT_HEARTBEAT_SECONDS": _int("IMPORT_HEARTBEAT_SECONDS", 30),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session; idle timeout ends both
        "MAX_CONTENT_LENGTH": _int("MAX_UPLOAD_MB", 200) * 1024 * 1024,
        "PROXY_FIX_HOPS": _int("PROXY_FIX_HOPS", 0),
        # Outbox transport until each workspace connects its own mailbox. No SMTP_HOST: nothing is sent.
        "SMTP_HOST": os.environ.get("SMTP_HOST", ""),
        "SMTP_PORT": _int("SMTP_PORT", 587),
        "SMTP_USERNAME": os.environ.get("SMTP_USERNAME", ""),
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD", ""),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "ar@plixo.localhost"),
        "DEV_OUTBOX_DIR": os.environ.get("DEV_OUTBOX_DIR", ""),
        # Microsoft 365 inboxes: Plixo's app registration (Entra ID), and where Microsoft's sign-in and Graph are.
        "MS_CLIENT_ID": os.environ.get("MS_CLIENT_ID", ""),
        "MS_CLIENT_SECRET": os.environ.get("MS_CLIENT_SECRET", ""),
        "MS_TENANT": os.environ.get("MS_TENANT", "organizations"),
        "MS_AUTHORITY_HOST": os.environ.get("MS_AUTHORITY_HOST", "https://login.microsoftonline.com"),
        "MS_GRAPH_BASE": os.environ.get("MS_GRAPH_BASE", "https://graph.microsoft.com/v1.0"),
        # Gmail inboxes: Plixo's Google OAuth client, and where Google's sign-in and the Gmail API are.
        "GOOGLE_CLIENT_ID": os.environ.get("GOOGLE_CLIENT_ID", ""),
        "GOOGLE_CLIENT_SECRET": os.environ.get("GOOGLE_CLIENT_SECRET", ""),
        "GOOGLE_AUTH_URI": os.environ.get("GOOGLE_AUTH_URI", "https://accounts.google.com/o/oauth2/v2/auth"),
        "GOOGLE_TOKEN_URI": os.environ.get("GOOGLE_TOKEN_URI", "https://oauth2.googleapis.com/token"),
        "GOOGLE_CERTS_URL": os.environ.get("GOOGLE_CERTS_URL", "https://www.googleapis.com/oauth2/v1/certs"),
        "GOOGLE_REVOKE_URI": os.environ.get("GOOGLE_REVOKE_URI", "https://oauth2.googleapis.com/revoke"),
        "GMAIL_API_BASE": os.environ.get("GMAIL_API_BASE", "https://gmail.googleapis.com/gmail/v1"),
        # A CA file to trust for the mailbox providers' HTTPS instead of the system's (tests: a fake on loopback).
        "MAIL_CA_BUNDLE": os.environ.get("MAIL_CA_BUNDLE", ""),
        # The SPF include that authorises the servers Plixo sends through; sending domains must publish it.
        "SPF_INCLUDE": os.environ.get("SPF_INCLUDE", "_spf.plixo.localhost"),
        # Nameservers for the deliverability checks (comma-separated); unset, the system's resolver.
        "DNS_NAMESERVERS": os.environ.get("DNS_NAMESERVERS", ""),
        "DNS_PORT": _int("DNS_PORT", 53),  # `make run`'s mail sink, listed at Dev outbox
        # The writing assistant: any OpenAI-compatible endpoint that may rework the compose box's drafts. Without a
        # base URL and a model, drafts are the rule-based ones alone.
        "LLM_BASE_URL": os.environ.get("LLM_BASE_URL", "").rstrip("/"),
        "LLM_API_KEY": os.environ.get("LLM_API_KEY", ""),
        "LLM_MODEL": os.environ.get("LLM_MODEL", ""),
        "LLM_TIMEOUT_SECONDS": _int("LLM_TIMEOUT_SECONDS", 10),
    }
    config.update(overrides)
    if production and not config["PUBLIC_BASE_URL"].startswith("https://"):
        # Payers open these links from their mailboxes, and Stripe posts webhooks to them: never over plain http.
        raise ConfigError("PUBLIC_BASE_URL must be an https:// address when PLIXO_ENV=production")
    return config
