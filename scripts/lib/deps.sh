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
