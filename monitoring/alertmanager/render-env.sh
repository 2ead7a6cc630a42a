#!/bin/sh
# Render alertmanager.yml's ${VAR} placeholders from the environment.
#
# Alertmanager 0.25 does not expand environment variables in its configuration (and has no
# *_file variant for the webhook URL), so secrets and endpoints are substituted here, once,
# before Alertmanager starts. Only the listed variables are substituted: the notification
# templates ({{ ... }}) and anything else containing "$" are left alone.
#
# Usage: monitoring/alertmanager/render-env.sh [OUTPUT_DIR]
#   Writes OUTPUT_DIR/alertmanager.yml (default: rendered/ next to this script, git-ignored)
#   and links OUTPUT_DIR/templates to templates/, because Alertmanager resolves template
#   paths relative to the configuration file. Variables come from the environment or from a
#   .env file in the current directory (KEY=VALUE lines, as docker compose reads them).
#
# Permissions: the directory is 0700 (only you can reach the secrets on this host), the file
# 0644 so the Alertmanager container, which runs as `nobody`, can read it through its bind
# mount (docker-compose.monitoring.yml mounts the file itself, not the directory).
#
# Values are inserted inside single-quoted YAML scalars, so they must not contain a single
# quote or a newline; the script refuses such values rather than writing a broken file.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
outdir=${1:-"$here/rendered"}

if [ -f .env ]; then
    set -a
    # shellcheck disable=SC1091
    . ./.env
    set +a
fi

# Not secret, with a default that matches docker-compose.monitoring.yml.
: "${INCIDENT_WEBHOOK_URL:=http://backend:8000/api/webhooks/alertmanager}"
export INCIDENT_WEBHOOK_URL

vars="SLACK_WEBHOOK_URL PAGERDUTY_SERVICE_KEY SMTP_SMARTHOST SMTP_USERNAME SMTP_PASSWORD
ALERT_EMAIL_FROM INCIDENT_WEBHOOK_URL INCIDENT_WEBHOOK_TOKEN"

missing=""
shell_format=""
for var in $vars; do
    eval "value=\${$var-}"
    if [ -z "$value" ]; then
        missing="$missing $var"
        continue
    fi
    case "$value" in
        *"'"* | *"
"*)
            echo "render-env.sh: $var contains a single quote or a newline" >&2
            exit 2
            ;;
    esac
    shell_format="$shell_format \${$var}"
done
if [ -n "$missing" ]; then
    echo "render-env.sh: unset or empty:$missing" >&2
    exit 2
fi

command -v envsubst >/dev/null || {
    echo "render-env.sh: envsubst not found (apt-get install gettext-base)" >&2
    exit 2
}

mkdir -p "$outdir"
chmod 0700 "$outdir"
[ -e "$outdir/templates" ] || ln -s "$here/templates" "$outdir/templates"

tmp="$outdir/.alertmanager.yml.$$"
trap 'rm -f "$tmp"' EXIT
(umask 077 && envsubst "$shell_format" <"$here/alertmanager.yml" >"$tmp")

if grep -n '^[^#]*\${[A-Z_]*}' "$tmp" >&2; then
    echo "render-env.sh: placeholders left unrendered (listed above)" >&2
    exit 2
fi

if command -v amtool >/dev/null && ! amtool check-config "$tmp" >/dev/null 2>&1; then
    amtool check-config "$tmp" >&2 || true
    exit 1
fi

chmod 0644 "$tmp"
mv "$tmp" "$outdir/alertmanager.yml"
echo "render-env.sh: wrote $outdir/alertmanager.yml" >&2
