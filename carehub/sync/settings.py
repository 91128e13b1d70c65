"""Which hub this workstation syncs with: its URL (with the care manager's hub login).

Kept in the local database (the sync capability's key/value table), so the app and the
scheduler read it from the truth; the password is never here but in the OS keyring
(carehub/sync/credentials.py). Changing it is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.engine import URL, make_url
from sqlmodel import Session

from carehub.coordination.audit import Change, record_events
from carehub.errors import InputError
from carehub.sync.hub import parse_hub_url
from carehub.sync.models import SyncMeta

HUB_URL_KEY = "app.hub_url"
FHIR_ENDPOINT_KEY = "app.fhir_endpoint"


@dataclass(frozen=True)
class HubSettings:
    url: str  # postgresql://user@host:port/db, no password
    user: str  # the care manager's PostgreSQL role at the hub

    @property
    def server(self) -> str:
        """The URL without the user, as a settings form shows it."""
        url = make_url(self.url)
        bare = URL.create(url.drivername, host=url.host, port=url.port, database=url.database,
                          query=url.query)
        return bare.render_as_string(hide_password=False)


def compose_hub_url(server: str, user: str) -> str:
    """`postgresql://host/db` and a login -> the hub URL, checked; no password kept."""
    server, user = server.strip(), user.strip()
    if not server:
        raise InputError("The hub's address is empty.", "L'adresse du hub est vide.")
    if not user:
        raise InputError("The hub login is empty.", "L'identifiant au hub est vide.")
    try:
        url = make_url(server.replace("postgresql+psycopg://", "postgresql://", 1))
    except Exception:
        parse_hub_url(server)  # raises the hub's own message for a malformed address
        raise
    if url.password:
        raise InputError("Do not put the password in the hub's address; it goes to the "
                         "keyring.",
                         "Ne mettez pas le mot de passe dans l'adresse du hub : il est gardé "
                         "dans le trousseau.")
    return parse_hub_url(url.set(username=user).render_as_string(hide_password=False)).key


def hub_settings(session: Session) -> HubSettings | None:
    row = session.get(SyncMeta, HUB_URL_KEY)
    if row is None or not row.value:
        return None
    address = parse_hub_url(row.value)
    return HubSettings(url=address.key, user=address.user)


def save_hub_settings(session: Session, *, url: str | None, actor: str) -> HubSettings | None:
    """Remember the hub (checked), or forget it with `url=None`; audited."""
    row = session.get(SyncMeta, HUB_URL_KEY)
    if url is None:
        if row is not None:
            session.delete(row)
            record_events(session, [Change(actor, "hub_settings", HUB_URL_KEY, "delete", {})])
        return None
    address = parse_hub_url(url)
    if address.password:
        raise InputError("The hub URL must not carry the password.",
                         "L'adresse du hub ne doit pas contenir le mot de passe.")
    if row is None:
        row = SyncMeta(key=HUB_URL_KEY, value=address.key)
    else:
        row.value = address.key
    session.add(row)
    record_events(session, [Change(actor, "hub_settings", HUB_URL_KEY, "update",
                                   {"url": address.key})])
    return HubSettings(url=address.key, user=address.user)


def fhir_endpoint(session: Session) -> str | None:
    """The FHIR server the app posts the actions to (the shared record), if one is set."""
    row = session.get(SyncMeta, FHIR_ENDPOINT_KEY)
    return row.value if row is not None and row.value else None


def save_fhir_endpoint(session: Session, *, url: str, actor: str) -> str:
    """Remember the FHIR server's base URL (http or https); audited."""
    url = url.strip()
    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.password:
        raise InputError(f"{url!r} is not a FHIR server address (https://host/fhir).",
                         f"« {url} » n'est pas l'adresse d'un serveur FHIR "
                         "(https://serveur/fhir).")
    if len(url) > 200:
        raise InputError("The FHIR server address is longer than 200 characters.",
                         "L'adresse du serveur FHIR dépasse 200 caractères.")
    row = session.get(SyncMeta, FHIR_ENDPOINT_KEY) or SyncMeta(key=FHIR_ENDPOINT_KEY, value="")
    row.value = url
    session.add(row)
    record_events(session, [Change(actor, "hub_settings", FHIR_ENDPOINT_KEY, "update",
                                   {"url": url})])
    return url
