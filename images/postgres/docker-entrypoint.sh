#!/usr/bin/env bash
# Stand-in for the official postgres image's docker-entrypoint.sh: the same environment
# contract, a smaller script. As root it prepares $PGDATA and re-executes itself as postgres
# (gosu); on an empty $PGDATA it runs initdb (superuser $POSTGRES_USER, password
# $POSTGRES_PASSWORD), allows password logins from any host with $POSTGRES_HOST_AUTH_METHOD
# (default scram-sha-256), creates $POSTGRES_DB and runs /docker-entrypoint-initdb.d/*.sh|*.sql
# on a temporary socket-only server; then it execs the command (postgres ...).
set -Eeuo pipefail

if [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi

if [ "$1" = 'postgres' ] && [ "$(id -u)" = '0' ]; then
	mkdir -p "$PGDATA"
	chown postgres:postgres "$PGDATA"
	chmod 700 "$PGDATA"
	exec gosu postgres "${BASH_SOURCE[0]}" "$@"
fi

if [ "$1" = 'postgres' ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
	: "${POSTGRES_USER:=postgres}"
	: "${POSTGRES_DB:=$POSTGRES_USER}"
	: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
	if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != 'trust' ]; then
		echo 'error: database is uninitialized and superuser password is not specified.' >&2
		echo '  set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust, never in production)' >&2
		exit 1
	fi
	# The password goes through a pipe (never argv); the process substitution must sit on the
	# initdb line itself, its file descriptor lives only as long as that one command.
	if [ -n "${POSTGRES_PASSWORD:-}" ]; then
		# shellcheck disable=SC2086 # word splitting of POSTGRES_INITDB_ARGS is the contract
		initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
			${POSTGRES_INITDB_ARGS:-}
	else
		# shellcheck disable=SC2086
		initdb --username="$POSTGRES_USER" ${POSTGRES_INITDB_ARGS:-}
	fi
	printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

	shopt -s nullglob
	init_files=(/docker-entrypoint-initdb.d/*)
	if [ "$POSTGRES_DB" != 'postgres' ] || [ ${#init_files[@]} -gt 0 ]; then
		pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
		export PGUSER="$POSTGRES_USER" PGPASSWORD="${POSTGRES_PASSWORD:-}" PGHOST=/var/run/postgresql
		if [ "$POSTGRES_DB" != 'postgres' ]; then
			psql -v ON_ERROR_STOP=1 --dbname postgres \
				--set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
		fi
		for f in "${init_files[@]}"; do
			case "$f" in
				*.sh) echo "running $f"; . "$f" ;;
				*.sql) echo "running $f"; psql -v ON_ERROR_STOP=1 --dbname "$POSTGRES_DB" -f "$f" ;;
				*) echo "ignoring $f" ;;
			esac
		done
		pg_ctl -D "$PGDATA" -m fast -w stop
		unset PGPASSWORD
	fi
	echo 'PostgreSQL init process complete; ready for start up.'
fi

exec "$@"
