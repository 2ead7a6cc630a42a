#!/bin/sh
# Stand-in for the official redis image's docker-entrypoint.sh: options alone mean
# `redis-server <options>`, root drops to the redis user (gosu), and protected mode is off
# unless a config file or the command line says otherwise. The official image compiles
# protected mode off; Debian's redis-server has it on, which would refuse every client from
# another container when no password is set.
set -e

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
	find . \! -user redis -exec chown redis '{}' +
	exec gosu redis "$0" "$@"
fi

if [ "$1" = 'redis-server' ]; then
	case " $* " in
		*.conf\ *|*--protected-mode*) ;;
		*) set -- "$@" --protected-mode no ;;
	esac
fi

um="$(umask)"
if [ "$um" = '0022' ]; then
	umask 0077
fi

exec "$@"
