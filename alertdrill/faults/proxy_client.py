"""A client of Toxiproxy's HTTP API: the fault proxy's, or a real Toxiproxy's.

The proxy faults drive their proxy only through this client, so they work unchanged against a
real Toxiproxy (a container backend can run one). Responses are parsed at the edge into frozen
records; toxics of types this harness does not model (slicer, ...) still parse, with their
attributes as numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from alertdrill.clients._http import ApiError, HttpClientBase, JsonHttp, as_list, as_object, as_text

__all__ = ["ProxyHandle", "ProxyInfo", "ToxicInfo", "ToxiproxyClient"]

_COMPONENT = "fault-proxy"


@dataclass(frozen=True)
class ToxicInfo:
    name: str
    type: str
    stream: str
    toxicity: float
    attributes: Mapping[str, float]


@dataclass(frozen=True)
class ProxyInfo:
    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[ToxicInfo, ...]

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(f"unexpected response: {what} should be a number", component=_COMPONENT)
    return float(value)


def _toxic(value: object) -> ToxicInfo:
    obj = as_object(value, "toxic", _COMPONENT)
    attributes = as_object(obj.get("attributes") or {}, "toxic.attributes", _COMPONENT)
    return ToxicInfo(
        name=as_text(obj.get("name"), "toxic.name", _COMPONENT),
        type=as_text(obj.get("type"), "toxic.type", _COMPONENT),
        stream=as_text(obj.get("stream"), "toxic.stream", _COMPONENT),
        toxicity=_number(obj.get("toxicity", 1.0), "toxic.toxicity"),
        attributes=MappingProxyType(
            {str(k): _number(v, f"toxic.attributes.{k}") for k, v in attributes.items()}
        ),
    )


def _proxy(value: object) -> ProxyInfo:
    obj = as_object(value, "proxy", _COMPONENT)
    enabled = obj.get("enabled")
    if not isinstance(enabled, bool):
        raise ApiError("unexpected response: proxy.enabled should be a bool", component=_COMPONENT)
    return ProxyInfo(
        name=as_text(obj.get("name"), "proxy.name", _COMPONENT),
        listen=as_text(obj.get("listen"), "proxy.listen", _COMPONENT),
        upstream=as_text(obj.get("upstream"), "proxy.upstream", _COMPONENT),
        enabled=enabled,
        toxics=tuple(_toxic(t) for t in as_list(obj.get("toxics") or [], "toxics", _COMPONENT)),
    )


class ToxiproxyClient(HttpClientBase):
    """One Toxiproxy API (``http://127.0.0.1:8474``); close it (or use ``with``)."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        # Toxiproxy refuses browser user agents; httpx's own is fine, set explicitly anyway.
        self._http = JsonHttp(self.url, component=_COMPONENT, timeout=timeout)

    def version(self) -> str:
        response = self._http.request("GET", "/version")
        try:
            body = as_object(response.json(), "version", _COMPONENT)
            return as_text(body.get("version"), "version", _COMPONENT)
        except ValueError:  # Toxiproxy before 2.6 answered plain text
            return response.text.strip()

    def proxies(self) -> dict[str, ProxyInfo]:
        body = as_object(self._http.json("GET", "/proxies"), "proxies", _COMPONENT)
        return {name: _proxy(value) for name, value in body.items()}

    def proxy(self, name: str) -> ProxyInfo:
        return _proxy(self._http.json("GET", f"/proxies/{name}"))

    def create_proxy(
        self, name: str, *, upstream: str, listen: str = "127.0.0.1:0", enabled: bool = True
    ) -> ProxyInfo:
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
        return _proxy(self._http.json("POST", "/proxies", json_body=body, expect=(201,)))

    def set_enabled(self, name: str, enabled: bool) -> ProxyInfo:
        body = {"enabled": enabled}
        return _proxy(self._http.json("POST", f"/proxies/{name}", json_body=body))

    def delete_proxy(self, name: str) -> None:
        self._http.request("DELETE", f"/proxies/{name}", expect=(204,))

    def toxics(self, proxy: str) -> tuple[ToxicInfo, ...]:
        body = as_list(self._http.json("GET", f"/proxies/{proxy}/toxics"), "toxics", _COMPONENT)
        return tuple(_toxic(t) for t in body)

    def add_toxic(
        self,
        proxy: str,
        type: str,
        attributes: Mapping[str, int],
        *,
        name: str | None = None,
        stream: str = "downstream",
        toxicity: float = 1.0,
    ) -> ToxicInfo:
        body: dict[str, object] = {
            "type": type,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": dict(attributes),
        }
        if name is not None:
            body["name"] = name
        return _toxic(self._http.json("POST", f"/proxies/{proxy}/toxics", json_body=body))

    def remove_toxic(self, proxy: str, name: str) -> bool:
        """Remove toxic ``name``; False when it was not there (already removed, or the proxy
        restarted and lost it)."""
        response = self._http.request(
            "DELETE", f"/proxies/{proxy}/toxics/{name}", expect=(204, 404)
        )
        return response.status_code == 204

    def reset(self) -> None:
        """Every proxy enabled, every toxic removed."""
        self._http.request("POST", "/reset", expect=(204,))

    def handle(self, name: str) -> ProxyHandle:
        return ProxyHandle(self, name)


@dataclass(frozen=True)
class ProxyHandle:
    """One proxied dependency (``postgres``, ``redis``): what a proxy fault acts on."""

    client: ToxiproxyClient
    name: str

    def info(self) -> ProxyInfo:
        return self.client.proxy(self.name)

    def __str__(self) -> str:
        return self.name
