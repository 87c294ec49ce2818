# Shared by scripts/demo and scripts/test: what building Switchboard needs beyond the Rust
# toolchain. Debian's libopus (the audio relay mixes with it), found with pkg-config.
ensure_libopus() {
    if pkg-config --exists opus 2>/dev/null; then
        return 0
    fi
    if [ "$(id -u)" = 0 ]; then
        echo "Installing libopus-dev and pkg-config (needed to build the audio relay)…" >&2
        apt-get install -y -qq libopus-dev pkg-config >/dev/null 2>&1 ||
            { apt-get update -qq && apt-get install -y -qq libopus-dev pkg-config >/dev/null; }
    else
        echo "The audio relay needs libopus: sudo apt-get install -y libopus-dev pkg-config" >&2
        return 1
    fi
}

# Debian's coturn: the TURN end-to-end test (web/e2e/turn.mjs) starts its own turnserver (never
# the system service).
ensure_coturn() {
    if [ -x /usr/bin/turnserver ]; then
        return 0
    fi
    if [ "$(id -u)" = 0 ]; then
        echo "Installing coturn (the TURN end-to-end test runs its own turnserver)…" >&2
        apt-get install -y -qq coturn >/dev/null 2>&1 ||
            { apt-get update -qq && apt-get install -y -qq coturn >/dev/null; }
    else
        echo "The TURN end-to-end test needs coturn: sudo apt-get install -y coturn" >&2
        return 1
    fi
}

# PostgreSQL for the store's and the server's PostgreSQL tests: a server answering on
# 127.0.0.1:PORT (5432) that trusts local TCP connections and has a database `test`. A server
# already answering there is used as it is; otherwise Debian's postgresql is installed when
# missing and a cluster (CLUSTER, `main`) is created if needed and started. Fails, saying why,
# when it cannot: the tests never skip for want of a server.
ensure_postgres() {
    local port=${1:-5432} cluster=${2:-main} host=127.0.0.1
    if ! pg_isready -q -h "$host" -p "$port" 2>/dev/null; then
        if [ "$(id -u)" != 0 ]; then
            echo "The PostgreSQL tests need a server on $host:$port that trusts local TCP" \
                "connections, with a database test (sudo apt-get install -y postgresql)," \
                "or SWITCHBOARD_TEST_POSTGRES naming another" >&2
            return 1
        fi
        if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || ! command -v pg_ctlcluster >/dev/null; then
            echo "Installing postgresql (the PostgreSQL store's tests)…" >&2
            apt-get install -y -qq postgresql >/dev/null 2>&1 ||
                { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; }
        fi
        local version
        version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
        if [ ! -d "/etc/postgresql/$version/$cluster" ]; then
            pg_createcluster --port "$port" "$version" "$cluster" >/dev/null
        fi
        pg_conftool "$version" "$cluster" set port "$port"
        local hba="/etc/postgresql/$version/$cluster/pg_hba.conf"
        # The first matching line wins: trust local TCP ahead of whatever else is there.
        if ! grep -Eq "^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust" "$hba"; then
            sed -i "1i host all all 127.0.0.1/32 trust" "$hba"
        fi
        if pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c && $4 == "online" { found = 1 } END { exit !found }'; then
            pg_ctlcluster "$version" "$cluster" restart
        else
            pg_ctlcluster "$version" "$cluster" start
        fi
        local i
        for i in $(seq 1 30); do
            pg_isready -q -h "$host" -p "$port" && break
            sleep 1
        done
        if ! pg_isready -q -h "$host" -p "$port"; then
            echo "PostgreSQL $version/$cluster did not start on $host:$port" \
                "(see /var/log/postgresql/postgresql-$version-$cluster.log)" >&2
            return 1
        fi
    fi
    if ! command -v psql >/dev/null; then
        if [ "$(id -u)" = 0 ]; then
            apt-get install -y -qq postgresql-client >/dev/null 2>&1 ||
                { apt-get update -qq && apt-get install -y -qq postgresql-client >/dev/null; }
        else
            echo "Checking the PostgreSQL server needs psql: sudo apt-get install -y postgresql-client" >&2
            return 1
        fi
    fi
    local has_test
    if ! has_test=$(psql -h "$host" -p "$port" -U postgres -d postgres -w -Atqc \
        "SELECT count(*) FROM pg_database WHERE datname = 'test'" 2>&1); then
        echo "The PostgreSQL server on $host:$port does not let user postgres in without a" \
            "password (trust auth for 127.0.0.1 is needed): $has_test" >&2
        return 1
    fi
    if [ "$has_test" = 0 ]; then
        psql -h "$host" -p "$port" -U postgres -d postgres -w -qc "CREATE DATABASE test" >/dev/null
    fi
}
