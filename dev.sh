#!/usr/bin/env bash
# Developer entry point.
#   ./dev.sh demo   start the AWS stand-in (moto, extended) + a loopback DNS server,
#                   build a VPC, an NLB with a tagged target group, an Aurora
#                   cluster and an RDS Proxy, run the scheduled sync, fail the
#                   cluster over, sync again (nothing leaves this machine)
#   ./dev.sh test   every test: unit, integration (real binaries under the Lambda
#                   runtime emulator, against the AWS stand-in and loopback DNS)
#   ./dev.sh setup  only install the Python tools into .venv
#   ./dev.sh lint   cargo fmt --check, clippy -D warnings, cfn-lint
# Needs Rust (the toolchain in rust-toolchain.toml) and Python 3 with venv.
set -euo pipefail
cd "$(dirname "$0")"

# Python tools the tests use, pinned. Installed into ./.venv, never globally.
# pytest runs the template tests (tests/template): .venv/bin/python -m pytest tests/template
PY_PACKAGES=("moto[server]==5.2.1" "cargo-lambda==1.9.2" "cfn-lint==1.51.0" "pytest==9.2.0")

setup() {
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  local stamp=.venv/.dev-sh-packages
  if [ "$(cat "$stamp" 2>/dev/null)" != "${PY_PACKAGES[*]}" ]; then
    echo "installing ${PY_PACKAGES[*]} into .venv" >&2
    .venv/bin/pip install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}"
    echo "${PY_PACKAGES[*]}" > "$stamp"
  fi
  # Tests and the demo find cargo-lambda here, and the stand-in's Python
  # (with moto) in .venv.
  export PATH="$PWD/.venv/bin:$PATH"
}

case "${1:-}" in
  setup) setup ;;
  test)
    setup
    # The integration tests run the function binaries: build them first.
    cargo build --workspace --bins
    cargo test --workspace --no-fail-fast
    ;;
  demo)
    setup
    cargo build --quiet --workspace --bins
    cargo run --quiet -p integration-tests --bin demo
    ;;
  lint)
    setup
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    cfn-lint template.yaml
    ;;
  *)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
