#!/bin/sh
# Run once by the postgres image on a new data directory (docker-entrypoint-initdb.d): let the database
# owner connect with the replication protocol from the compose network, for pg_basebackup from another
# container or host (docs/operations.md §5.1). An existing data directory needs this line added by hand.
set -eu
echo "host replication ${POSTGRES_USER} samenet scram-sha-256" >> "$PGDATA/pg_hba.conf"
