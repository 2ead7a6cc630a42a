#!/bin/sh
# Runs inside the stand-in base root filesystem (chroot) after the Debian packages are
# installed: lays out the paths the official images use, so a configuration written for the
# official images runs unchanged on the stand-ins. /bin is /usr/bin here (merged /usr), so
# /bin/prometheus already exists; the other binaries get their official names as symlinks.
set -eu

ln -sf prometheus-alertmanager /usr/bin/alertmanager
ln -sf prometheus-node-exporter /usr/bin/node_exporter
ln -sf prometheus-postgres-exporter /usr/bin/postgres_exporter
ln -sf prometheus-blackbox-exporter /usr/bin/blackbox_exporter
ln -sf /usr/bin/prometheus-redis-exporter /redis_exporter

# Config and data directories where the official images keep them.
mkdir -p /prometheus /alertmanager /etc/alertmanager /etc/blackbox_exporter \
  /usr/share/prometheus /data /docker-entrypoint-initdb.d /var/lib/postgresql/data \
  /var/run/postgresql /var/lib/alertdrill
cp /etc/prometheus/alertmanager.yml /etc/alertmanager/alertmanager.yml
cp /etc/prometheus/blackbox.yml /etc/blackbox_exporter/config.yml
ln -sfn /etc/prometheus/console_libraries /usr/share/prometheus/console_libraries
ln -sfn /etc/prometheus/consoles /usr/share/prometheus/consoles
chown -R nobody:nogroup /prometheus /alertmanager /etc/prometheus /etc/alertmanager \
  /var/lib/alertdrill
chown redis:redis /data
chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
chmod 3777 /var/run/postgresql

# Like the official postgres image: a new cluster listens on every interface of the container.
sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" \
  /usr/share/postgresql/15/postgresql.conf.sample

# What only the build needed.
rm -f /usr/sbin/policy-rc.d
apt-get clean
rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /usr/share/info/* \
  /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log
