"""Container backend logic that needs no Docker engine: image choice, apt mirrors, the
service's vendored dependencies, the NXDOMAIN server, compose agreement, labels."""

from __future__ import annotations

import ast
import socket
import struct
import sys
from pathlib import Path

import pytest
import yaml

from alertdrill.images import rootfs
from alertdrill.images.catalog import CATALOG, choose, env_overrides
from alertdrill.images.service import SERVICE_REQUIREMENTS, dependency_closure
from alertdrill.stack.containers_dns import NxdomainServer, nxdomain_reply
from alertdrill.stack.containers_engine import _owner_alive, owner_tag, run_labels
from alertdrill.stack.containers_specs import PORTS, scrape_endpoints

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


# -- image choice -------------------------------------------------------------------------


def test_official_image_wins_when_present() -> None:
    spec = CATALOG["prometheus"]
    assert spec.official is not None and spec.standin is not None
    choice = choose("prometheus", {spec.official, spec.standin})
    assert (choice.image, choice.source) == (spec.official, "official")


def test_standin_when_only_it_is_present_and_pull_otherwise() -> None:
    spec = CATALOG["postgres"]
    assert choose("postgres", {spec.standin or ""}).source == "standin"
    missing = choose("postgres", set())
    assert (missing.image, missing.source) == (spec.official, "pull")


def test_override_wins_from_environment() -> None:
    overrides = env_overrides({"ALERTDRILL_IMAGE_REDIS_EXPORTER": "mirror/redis_exporter:1"})
    assert overrides == {"redis-exporter": "mirror/redis_exporter:1"}
    choice = choose("redis-exporter", set(), overrides)
    assert (choice.image, choice.source) == ("mirror/redis_exporter:1", "override")


def test_every_container_component_has_an_image() -> None:
    assert set(PORTS) - {"fault-proxy"} <= set(CATALOG)


# -- compose and the backend agree -------------------------------------------------------


def test_compose_images_and_services_match_the_catalog() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.monitoring.yml").read_text())
    services = compose["services"]
    for name, service in services.items():
        assert CATALOG[name].official == service["image"], name
    # Every monitoring service of the compose file runs in the container backend (Grafana
    # when its image is present), under the same name.
    assert set(services) - {"grafana"} <= set(PORTS)


def test_rendered_targets_are_the_production_ones() -> None:
    production = yaml.safe_load((ROOT / "monitoring/prometheus/prometheus.yml").read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"][0]
        for job in production["scrape_configs"]
    }
    endpoints = scrape_endpoints()
    assert endpoints.backend == targets["backend"]
    assert endpoints.prometheus == targets["prometheus"]
    assert endpoints.alertmanager == targets["alertmanager"]
    assert endpoints.node == targets["node"]
    assert endpoints.postgres == targets["postgres"]
    assert endpoints.redis == targets["redis"]


# -- apt mirrors ---------------------------------------------------------------------------


def test_mirrors_are_read_from_deb822_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.test/debian\nSuites: bookworm\n\n"
        "Types: deb\nURIs: http://mirror.test/debian-security/\nSuites: bookworm-security\n"
    )
    monkeypatch.setattr(rootfs, "_APT_SOURCES", tmp_path / "none.list")
    monkeypatch.setattr(rootfs, "_APT_SOURCES_DIR", tmp_path)
    assert rootfs.debian_mirrors() == (
        "http://mirror.test/debian",
        "http://mirror.test/debian-security",
    )


def test_mirrors_default_to_debian(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rootfs, "_APT_SOURCES", tmp_path / "none.list")
    monkeypatch.setattr(rootfs, "_APT_SOURCES_DIR", tmp_path)
    assert rootfs.debian_mirrors()[0] == "http://deb.debian.org/debian"


def test_base_tag_changes_with_prepare_script(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "prepare.sh").write_text("one")
    first = rootfs.base_tag(tmp_path)
    (tmp_path / "base" / "prepare.sh").write_text("two")
    assert rootfs.base_tag(tmp_path) != first
    assert first.startswith(f"{rootfs.BASE_REPOSITORY}:{rootfs.SUITE}-")


# -- the service's vendored dependencies ---------------------------------------------------


def _third_party_imports(package: Path) -> set[str]:
    names: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != package.name}


def test_vendored_closure_covers_every_service_import() -> None:
    provided: set[str] = set()
    for dist in dependency_closure(SERVICE_REQUIREMENTS):
        top_level = dist.read_text("top_level.txt")
        if top_level:
            provided |= set(top_level.split())
        provided |= {
            Path(str(f)).parts[0].removesuffix(".py")
            for f in dist.files or ()
            if not str(f).startswith(("..", "/")) and ".dist-info" not in str(f)
        }
    needed = _third_party_imports(ROOT / "system_under_test")
    assert needed <= provided, f"not vendored: {needed - provided}"


def test_closure_follows_extras() -> None:
    names = {d.metadata["Name"].lower() for d in dependency_closure(["psycopg[binary]"])}
    assert {"psycopg", "psycopg-binary"} <= names


# -- the NXDOMAIN server -----------------------------------------------------------------


def _query(name: str, ident: int = 0x1234) -> bytes:
    header = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return header + labels + struct.pack("!HH", 1, 1)


def test_nxdomain_reply_echoes_the_question() -> None:
    query = _query("postgres")
    reply = nxdomain_reply(query)
    assert reply is not None
    ident, flags, qdcount, ancount, _, _ = struct.unpack_from("!HHHHHH", reply)
    assert (ident, qdcount, ancount) == (0x1234, 1, 0)
    assert flags & 0x8000 and flags & 0x000F == 3 and flags & 0x0100
    assert reply[12:] == query[12:]


def test_nxdomain_ignores_responses_and_garbage() -> None:
    assert nxdomain_reply(b"\x00\x01") is None
    response = bytearray(_query("x"))
    response[2] |= 0x80
    assert nxdomain_reply(bytes(response)) is None
    malformed = nxdomain_reply(struct.pack("!HHHHHH", 7, 0, 1, 0, 0, 0) + b"\x05ab")
    assert malformed is not None and struct.unpack_from("!H", malformed, 2)[0] & 0x000F == 1


def test_nxdomain_server_answers_over_udp() -> None:
    server = NxdomainServer("127.0.0.1", 0)
    server.start()
    try:
        assert server._socket is not None
        port = server._socket.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(2.0)
            client.sendto(_query("redis"), ("127.0.0.1", port))
            reply, _ = client.recvfrom(512)
        assert struct.unpack_from("!H", reply, 2)[0] & 0x000F == 3
    finally:
        server.stop()
    assert not server.running


# -- labels and leftovers --------------------------------------------------------------------


def test_labels_name_the_run_and_the_owner() -> None:
    labels = run_labels("abc")
    assert labels["alertdrill.run"] == "abc"
    assert labels["alertdrill.owner"] == "alertdrill"
    assert _owner_alive(labels)  # this process


def test_a_dead_or_foreign_owner_makes_leftovers() -> None:
    host = owner_tag().rpartition(":")[0]
    assert not _owner_alive({"alertdrill.pid": f"{host}:999999999"})
    assert not _owner_alive({"alertdrill.pid": "another-host:1"})
    assert not _owner_alive({})
