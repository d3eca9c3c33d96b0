# Sourced by scripts/test and scripts/test-servers.sh.
#
# cargo_tool_install CRATE VERSION ROOT [ARGS…]: builds a tool the checks use (cargo-deny, s3s-fs)
# from crates.io into ROOT/bin. The dev profile without debug info builds in about a third of the
# release build's time on 2 cores, and the tools do little work in the tests; the tools share one
# build folder, so the crates they have in common build once.
cargo_tool_install() {
    local crate="$1" version="$2" root="$3"
    shift 3
    CARGO_PROFILE_DEV_DEBUG=0 CARGO_TARGET_DIR="$root/build" \
        cargo install "$crate" --version "$version" --locked --debug --root "$root" "$@"
}

# cargo_tool_install_release CRATE VERSION ROOT [ARGS…]: the same, optimised, for a tool whose own
# speed is measured around Devpilot's (bench/run's S3 server: an unoptimised s3s-fs spends about
# 35 ms of CPU per MiB on its hashes and would set the pace of every S3 figure).
cargo_tool_install_release() {
    local crate="$1" version="$2" root="$3"
    shift 3
    CARGO_TARGET_DIR="$root/build" cargo install "$crate" --version "$version" --locked --root "$root" "$@"
}
