"""Fetching pages and feeds from the web, safely.

Every request made for ingestion goes through ``Fetcher.get``:

- only ``http`` and ``https``, no credentials in the URL;
- the host name is resolved here and every address it resolves to is checked *before*
  connecting: private, loopback, link-local, multicast and reserved addresses are refused unless
  ``fetch_allow_hosts`` names the host or the address. The connection then goes to the very
  address that was checked (the name is not resolved again, so DNS cannot answer differently
  in between), with the name in the Host header and for TLS (SNI and certificate check);
- redirects are followed by hand, at most ``fetch_max_redirects``, each hop checked the same way;
- one deadline for the whole request (connect, wait, body), and a size cap counted on the
  decoded body, so a compressed bomb or an endless stream stops at the cap;
- a User-Agent that says who we are, and robots.txt honoured (``robots.py``);
- conditional requests: with the ETag / Last-Modified of the last fetch, an unchanged resource
  answers 304 and costs nothing more.

Proxies from the environment are not used: the address check must see the real destination.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

from assistant import validate
from assistant.errors import FetchFailed, InvalidUrl
from assistant.settings import LiveSettings

log = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_READ_CHUNK = 64 * 1024
# IPv6 forms that carry an IPv4 address. Where the IPv4 sits at a known place and the form is
# in real use, the IPv4 is checked by the IPv4 rules: DNS64 answers every IPv4-only site with
# 64:ff9b::/96 on IPv6-only networks, so refusing that prefix would stop all fetching there.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# The rest are refused whole: deprecated forms (IPv4-compatible, site-local), one (IPv4-
# translated) that only a local translator acts on, and local-use NAT64, whose prefix length
# (so where the IPv4 sits) only the local network knows. Python up to 3.12 calls most of them
# global.
_EMBEDDING = tuple(
    ipaddress.IPv6Network(n) for n in ("::/96", "::ffff:0:0:0/96", "64:ff9b:1::/48", "fec0::/10")
)
_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass
class Fetched:
    """One response: 200 with a body, or 304 (not modified) without."""

    url: str  # the final URL, after redirects
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased
    body: bytes = b""
    requests: int = 1  # HTTP requests this took (redirect hops included, robots.txt not)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str:
        return self.headers.get("etag", "")

    @property
    def last_modified(self) -> str:
        return self.headers.get("last-modified", "")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def check_url(url: str) -> SplitResult:
    """``url`` parsed, or ``FetchFailed`` saying why it can't be fetched at all."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidUrl("empty URL")
    validate.url(url)
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise InvalidUrl(f"not a valid URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidUrl(f"only http and https URLs can be fetched, not {parts.scheme or url!r}")
    if not parts.hostname:
        raise InvalidUrl("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidUrl("URLs with a user name or password are not fetched")
    if port == 0:
        raise InvalidUrl("port 0 is not a port")
    return parts


class AddressPolicy:
    """Which addresses may be connected to: public ones, plus what ``fetch_allow_hosts`` names
    (host names, addresses, networks)."""

    def __init__(self, allow: list[str]) -> None:
        self.names: set[str] = set()
        self.networks: list[Network] = []
        for item in allow:
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self.names.add(item.lower().rstrip("."))

    def refusal(self, host: str, address: Address) -> str | None:
        """Why ``address`` (which ``host`` resolved to) may not be contacted; None if it may."""
        if host.lower().rstrip(".") in self.names:
            return None
        real = _embedded_ipv4(address) or address
        if any(a in net for net in self.networks for a in (address, real)):
            return None
        embedding = isinstance(real, ipaddress.IPv6Address) and any(
            real in net for net in _EMBEDDING
        )
        if real.is_global and not real.is_multicast and not embedding:
            return None
        kind = (
            "loopback"
            if real.is_loopback
            else "link-local"
            if real.is_link_local
            else "unspecified"
            if real.is_unspecified
            else "private"
            if real.is_private
            else "non-public"
        )
        shown = host if host == str(real) else f"{host} ({real})"
        return (
            f"refused to connect to {shown}: a {kind} address "
            "(list it in fetch_allow_hosts to allow it)"
        )

    def resolve(self, host: str, port: int, deadline: float) -> Address:
        """The first address of ``host`` after checking them all."""
        try:
            literal: Address | None = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            addresses: list[Address] = [literal]
        else:
            if time.monotonic() > deadline:
                raise FetchFailed("timed out")
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except (socket.gaierror, UnicodeError) as exc:
                raise FetchFailed(f"cannot resolve host {host}: {exc}") from None
            addresses = list(
                dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)
            )
        if not addresses:
            raise FetchFailed(f"cannot resolve host {host}")
        # One refused address refuses the host: a name that resolves to a public and a private
        # address could otherwise be steered to the private one.
        for address in addresses:
            why = self.refusal(host, address)
            if why:
                raise FetchFailed(why)
        return addresses[0]


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a connection to ``address`` really reaches, where the form says."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour


RobotsCheck = Callable[[str], None]  # raises FetchFailed when robots.txt disallows the URL


class Fetcher:
    """Safe GET requests (see the module docstring). Thread-safe; no connection is kept."""

    def __init__(self, settings: LiveSettings, robots: RobotsCheck | None = None) -> None:
        self.settings = settings
        self.policy = AddressPolicy(settings.fetch_allow_hosts)
        self.robots = robots
        self.max_bytes = int(settings.fetch_max_mb * 1024 * 1024)

    def get(
        self,
        url: str,
        *,
        etag: str = "",
        last_modified: str = "",
        accept: str = "*/*",
        max_bytes: int | None = None,
        robots: bool = True,
    ) -> Fetched:
        """GET ``url`` (following redirects) within one deadline. Raises ``FetchFailed`` with
        the reason for anything but a 200 or a 304."""
        deadline = time.monotonic() + self.settings.fetch_timeout
        limit = self.max_bytes if max_bytes is None else max_bytes
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url.strip()
        for hop in range(self.settings.fetch_max_redirects + 1):
            parts = check_url(current)
            https = parts.scheme.lower() == "https"
            port = parts.port or (443 if https else 80)
            # The address first: a refused one is the reason, not robots.txt's failure on it.
            address = self.policy.resolve(parts.hostname or "", port, deadline)
            if robots and self.robots is not None:
                self.robots(current)
            status, got, body = self._request(parts, address, port, headers, deadline, limit)
            if status in _REDIRECTS and got.get("location"):
                current = urljoin(current, got["location"])
                log.debug("redirect %d to %s", status, current)
                continue
            if status == 304:
                return Fetched(current, 304, got, b"", hop + 1)
            if status == 200:
                return Fetched(current, 200, got, body, hop + 1)
            raise FetchFailed(
                f"HTTP {status}" + (f" ({_short(body)})" if body.strip() else ""),
                http_status=status,
                retry_after=_retry_after(got.get("retry-after", "")),
            )
        raise FetchFailed(f"more than {self.settings.fetch_max_redirects} redirects")

    def _request(
        self,
        parts: SplitResult,
        address: Address,
        port: int,
        headers: dict[str, str],
        deadline: float,
        limit: int,
    ) -> tuple[int, dict[str, str], bytes]:
        import urllib3

        host = parts.hostname or ""
        https = parts.scheme.lower() == "https"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchFailed(f"timed out after {self.settings.fetch_timeout:g} s")
        timeout = urllib3.Timeout(connect=remaining, read=remaining)
        pool: urllib3.HTTPConnectionPool
        if https:
            import certifi

            pool = urllib3.HTTPSConnectionPool(
                str(address),
                port,
                timeout=timeout,
                retries=False,
                cert_reqs="CERT_REQUIRED",
                ca_certs=certifi.where(),
                assert_hostname=host,
                server_hostname=host,
            )
        else:
            pool = urllib3.HTTPConnectionPool(str(address), port, timeout=timeout, retries=False)
        default_port = port == (443 if https else 80)
        host_header = (f"[{host}]" if ":" in host else host) + ("" if default_port else f":{port}")
        target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
        request_headers = {
            **headers,
            "Host": host_header,
            "User-Agent": self.settings.fetch_user_agent,
            "Accept-Encoding": "gzip, deflate",
        }
        try:
            resp = pool.urlopen(
                "GET",
                target,
                headers=request_headers,
                redirect=False,
                retries=False,
                preload_content=False,
                decode_content=True,
                assert_same_host=False,
            )
        except urllib3.exceptions.TimeoutError:
            raise FetchFailed(f"timed out after {self.settings.fetch_timeout:g} s") from None
        except urllib3.exceptions.SSLError as exc:
            raise FetchFailed(f"TLS error: {_reason(exc)}") from None
        except urllib3.exceptions.HTTPError as exc:
            raise FetchFailed(f"connection failed: {_reason(exc)}") from None
        try:
            got = {k.lower(): v for k, v in resp.headers.items()}
            if resp.status != 200:
                # Redirects, 304s and errors: only a little of the body, for the message.
                return resp.status, got, self._read(resp, deadline, 2048, truncate=True)
            declared = got.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise FetchFailed(_too_large(limit, int(declared)))
            return resp.status, got, self._read(resp, deadline, limit)
        finally:
            resp.release_conn()
            pool.close()

    def _read(self, resp: object, deadline: float, limit: int, truncate: bool = False) -> bytes:
        import urllib3

        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                if time.monotonic() > deadline:
                    raise FetchFailed(f"timed out after {self.settings.fetch_timeout:g} s")
                chunk = resp.read(_READ_CHUNK)  # type: ignore[attr-defined]
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    if truncate:
                        chunks.append(chunk)
                        break
                    raise FetchFailed(_too_large(limit))
                chunks.append(chunk)
        except urllib3.exceptions.TimeoutError:
            raise FetchFailed(f"timed out after {self.settings.fetch_timeout:g} s") from None
        except urllib3.exceptions.DecodeError as exc:
            raise FetchFailed(f"broken compressed body: {_reason(exc)}") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise FetchFailed(f"connection broke: {_reason(exc)}") from None
        return b"".join(chunks)[: limit if truncate else None]


def _too_large(limit: int, declared: int | None = None) -> str:
    said = f" ({declared / 1024 / 1024:.1f} MB declared)" if declared else ""
    return f"response larger than {limit / 1024 / 1024:g} MB{said} (fetch_max_mb)"


def _reason(exc: BaseException) -> str:
    # urllib3 nests the real cause (refused, reset, certificate) a level or two down.
    inner = getattr(exc, "reason", None) or exc.__cause__ or exc.__context__
    text = str(inner or exc)
    return text.split(": ", 1)[-1] if "object at 0x" in text else text


def _short(body: bytes) -> str:
    text = " ".join(body[:200].decode("utf-8", "replace").split())
    return text[:120] + ("…" if len(text) > 120 else "")


def _retry_after(value: str) -> float | None:
    """Seconds from a Retry-After header (seconds or an HTTP date)."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
