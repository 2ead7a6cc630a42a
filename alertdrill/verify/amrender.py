"""Alertmanager configs made loadable for verification.

Alertmanager 0.25 does not expand environment variables, so configs kept as templates (ours
has ``${VAR}`` placeholders, filled by ``render-env.sh`` at deploy time) cannot be handed to
amtool or Alertmanager as they are. Two copies are made:

* ``static_copy``: for amtool. Placeholders are replaced *in the text*, line for line, so the
  line numbers amtool reports are the source's. A value comes from the environment when set,
  else a harmless dummy shaped by the key it sits under (a URL for ``*url*``, ``host:port``
  for ``*smarthost*``). Relative ``templates:`` keep resolving: the copy's directory links to
  every other entry of the source directory.
* ``live_config``: for a real Alertmanager under test. Placeholders and every integration
  endpoint go to the harness's sinks (``alertdrill.stack.render_alertmanager``); every
  receiver also gets a *probe* webhook whose payload names the receiver, group and alerts;
  integrations the sinks cannot play are dropped; and a case label is added to every
  ``group_by`` and inhibit ``equal`` so that routing tests posted together stay as isolated as
  if each had its own Alertmanager. Time-based muting is removed: a routing test must not
  pass or fail by the time of day.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from alertdrill.errors import ConfigError
from alertdrill.stack.render import Profile, Sinks
from alertdrill.stack.render_alertmanager import (
    PLACEHOLDERS,
    copy_templates,
    render_alertmanager_config,
)

__all__ = ["CASE_LABEL", "PROBE_WEBHOOK", "LiveConfig", "live_config", "static_copy"]

CASE_LABEL = "alertdrill_case"
PROBE_WEBHOOK = "alertdrill-verify-probe"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_KEY = re.compile(r"^\s*-?\s*([A-Za-z_][\w-]*)\s*:")
# Integrations the receivers' sinks accept (render_alertmanager points them there).
_SINK_INTEGRATIONS = frozenset({"slack_configs", "pagerduty_configs", "email_configs"})


def _dummy(var: str, key: str) -> str:
    key = key.lower()
    if "url" in key:
        return f"http://127.0.0.1:9/alertdrill-verify/{var.lower()}"
    if "smarthost" in key:
        return "127.0.0.1:25"
    if key in {"from", "to", "smtp_from"} or key.endswith("_from"):
        return "alertdrill-verify@example.invalid"
    return f"alertdrill-verify-{var.lower()}"


def static_copy(source: Path, work_dir: Path) -> tuple[Path, tuple[str, ...]]:
    """(config amtool can load, placeholders substituted). ``source`` itself when it has none."""
    text = source.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    found: list[str] = []
    out: list[str] = []
    for line in lines:
        if line.lstrip().startswith("#"):
            out.append(line)
            continue
        key_match = _KEY.match(line)
        key = key_match.group(1) if key_match else ""

        def value(match: re.Match[str], key: str = key) -> str:
            var = match.group(1)
            found.append(var)
            return os.environ.get(var) or _dummy(var, key)

        out.append(_PLACEHOLDER.sub(value, line))
    if not found:
        return source, ()
    work_dir.mkdir(parents=True, exist_ok=True)
    for entry in source.parent.iterdir():
        link = work_dir / entry.name
        if entry.name != source.name and not link.exists():
            link.symlink_to(entry.resolve())
    target = work_dir / source.name
    target.write_text("".join(out), encoding="utf-8")
    return target, tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class LiveConfig:
    path: Path
    dropped: tuple[str, ...]
    """``receiver/integration`` entries the sinks cannot play, left out."""
    unmuted: tuple[str, ...]
    """Route ids whose time-based muting was removed."""


def live_config(
    source: Path, out_dir: Path, profile: Profile, sinks: Sinks, probe_url: str
) -> LiveConfig:
    """Write ``out_dir/alertmanager.yml`` (and templates) for a verification Alertmanager."""
    loaded = yaml.safe_load(source.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise ConfigError("not a YAML mapping", path=source)
    config: dict[str, Any] = copy.deepcopy(loaded)
    # Placeholders render_alertmanager does not know get dummies (it refuses leftovers).
    config = _fill_unknown(config, "")
    dropped: list[str] = []
    for receiver in config.get("receivers") or []:
        name = str(receiver.get("name", ""))
        for key in [k for k in receiver if str(k).endswith("_configs")]:
            if key == "webhook_configs":
                for index, hook in enumerate(receiver[key] or []):
                    hook["url"] = f"{probe_url.rsplit('/', 1)[0]}/{_slug(name)}.{index}"
                    hook.pop("url_file", None)
                    hook.pop("http_config", None)  # credentials files may not exist here
            elif key not in _SINK_INTEGRATIONS:
                dropped.append(f"{name}/{key}")
                del receiver[key]
        receiver.setdefault("webhook_configs", []).append(
            {"url": probe_url, "send_resolved": False, "max_alerts": 0}
        )
    _sink_credentials(config, sinks)
    route = config.get("route") or {}
    unmuted = _isolate_and_unmute(route, "route", is_root=True)
    for rule in config.get("inhibit_rules") or []:
        rule["equal"] = [*(rule.get("equal") or []), CASE_LABEL]
    out_dir.mkdir(parents=True, exist_ok=True)
    templates = copy_templates(
        [str(p) for p in config.get("templates") or []], source.parent, out_dir
    )
    rendered = render_alertmanager_config(config, profile, sinks, templates=templates)
    path = out_dir / "alertmanager.yml"
    path.write_text(yaml.safe_dump(rendered, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return LiveConfig(path, tuple(dropped), tuple(unmuted))


def _sink_credentials(config: dict[str, Any], sinks: Sinks) -> None:
    """Email authenticates with the SMTP sink's credentials; secret files may not exist here."""
    global_ = config.setdefault("global", {})
    for key in ("smtp_auth_password_file", "smtp_auth_secret", "smtp_auth_identity"):
        global_.pop(key, None)
    global_["smtp_auth_username"] = sinks.smtp_username
    global_["smtp_auth_password"] = sinks.smtp_password
    for receiver in config.get("receivers") or []:
        for email in receiver.get("email_configs") or []:
            for key in ("auth_password_file", "auth_secret", "auth_identity"):
                email.pop(key, None)
            email["auth_username"] = sinks.smtp_username
            email["auth_password"] = sinks.smtp_password
        for key in ("slack_configs", "pagerduty_configs"):
            for integration in receiver.get(key) or []:
                # A secret read from a file that is not here would stop Alertmanager loading.
                if integration.pop("api_url_file", None) is not None:
                    integration["api_url"] = sinks.slack_url
                for secret in ("routing_key_file", "service_key_file"):
                    if integration.pop(secret, None) is not None:
                        integration["routing_key"] = sinks.pagerduty_routing_key
    if global_.pop("slack_api_url_file", None) is not None:
        global_["slack_api_url"] = sinks.slack_url


def _isolate_and_unmute(route: dict[str, Any], id_: str, *, is_root: bool) -> list[str]:
    unmuted: list[str] = []
    group_by = route.get("group_by")
    if is_root and group_by is None:
        # Alertmanager's default groups nothing together but by route; the case label keeps
        # two cases apart all the same.
        route["group_by"] = [CASE_LABEL]
    elif isinstance(group_by, list) and "..." not in group_by and CASE_LABEL not in group_by:
        route["group_by"] = [*group_by, CASE_LABEL]
    for key in ("mute_time_intervals", "active_time_intervals"):
        if route.pop(key, None):
            unmuted.append(id_)
    for index, child in enumerate(route.get("routes") or []):
        unmuted += _isolate_and_unmute(child, f"{id_}.routes[{index}]", is_root=False)
    return unmuted


def _fill_unknown(node: Any, key: str) -> Any:
    if isinstance(node, str):
        return _PLACEHOLDER.sub(
            lambda m: (
                m.group(0)
                if m.group(1) in PLACEHOLDERS
                else os.environ.get(m.group(1)) or _dummy(m.group(1), key)
            ),
            node,
        )
    if isinstance(node, list):
        return [_fill_unknown(item, key) for item in node]
    if isinstance(node, Mapping):
        return {k: _fill_unknown(v, str(k)) for k, v in node.items()}
    return node


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.:-]+", "-", name) or "receiver"
