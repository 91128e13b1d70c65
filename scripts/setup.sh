#!/usr/bin/env bash
# CareHub set-up on Debian 12 / Ubuntu 22.04+ (as root, or a user with sudo).
#
#   bash scripts/setup.sh demo   install everything, open the app on a demo caseload
#   bash scripts/setup.sh test   install everything, run ruff, mypy and the whole test suite
#
# Reruns are fast: apt is skipped when every package is present, pip when pyproject.toml
# has not changed since the last install. Installs are quiet; a failing one prints its log.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

VENV="$REPO_ROOT/.venv"
LOG_DIR="$(mktemp -d -t carehub-setup.XXXXXX)"
trap 'rm -rf "$LOG_DIR"' EXIT

# Qt offscreen needs these; a real window (or Xvfb) needs the second group.
QT_PACKAGES=(libglib2.0-0 libegl1 libgl1 libx11-6 libdbus-1-3 libfontconfig1 libfreetype6
             libxkbcommon0 fonts-dejavu-core)
WINDOW_PACKAGES=(xvfb xauth libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
                 libxcb-image0 libxcb-render-util0 libxcb-shape0 libxcb-randr0 libxcb-xkb1
                 libxkbcommon-x11-0)
# The team-hub tests start a throw-away PostgreSQL server on a Unix socket.
SERVER_PACKAGES=(postgresql)
# The printing tests read every PDF back as text (pdftotext) and as a picture (pdftoppm).
PRINT_PACKAGES=(poppler-utils)

say() { printf '==> %s\n' "$*"; }
die() { printf 'setup.sh: error: %s\n' "$*" >&2; exit 1; }

# Run a noisy command with its output kept aside; show all of it only if it fails.
quietly() {
    local log="$LOG_DIR/step.log"
    if ! "$@" >"$log" 2>&1; then
        printf 'setup.sh: this command failed: %s\n' "$*" >&2
        cat "$log" >&2
        exit 1
    fi
}

as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "root is needed to install system packages: run as root or install sudo"
    fi
}

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

python_in_range() {  # 3.11 to 3.13: PySide6 6.11 and sqlcipher3 wheels exist for these
    "$1" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] <= (3, 13)))' 2>/dev/null
}

pick_python() {
    local candidate
    for candidate in python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null && python_in_range "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null || die "apt-get not found: install by hand: $*"
    if [[ $APT_UPDATED -eq 0 ]]; then
        say "apt-get update"
        quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    quietly as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "$@"
}

install_system_packages() {
    local wanted=("${QT_PACKAGES[@]}" "${WINDOW_PACKAGES[@]}" "${SERVER_PACKAGES[@]}"
                  "${PRINT_PACKAGES[@]}")
    local python
    if ! python="$(pick_python)"; then
        # Ubuntu 22.04's python3 is 3.10; its archive also has python3.11.
        wanted+=(python3.11 python3.11-venv python3.11-dev)
    elif ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
        local version
        version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
        wanted+=(python3 python3-venv python3-dev "python$version-venv")
    fi
    local missing=() package
    for package in "${wanted[@]}"; do
        is_installed "$package" || missing+=("$package")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        say "system packages already installed"
    else
        apt_install "${missing[@]}"
    fi
}

make_venv() {
    local python
    python="$(pick_python)" || die "CareHub needs Python 3.11 to 3.13; none was found"
    if [[ -x "$VENV/bin/python" ]] && python_in_range "$VENV/bin/python" \
            && "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
        say "using $VENV ($("$VENV/bin/python" --version))"
    else
        say "creating $VENV with $python ($("$python" --version))"
        rm -rf "$VENV"
        quietly "$python" -m venv "$VENV"
    fi
    local stamp="$VENV/.carehub-installed" digest
    digest="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$digest" ]]; then
        say "Python packages up to date"
        return
    fi
    say "pip install -e '.[test]' (a few minutes the first time: Qt is ~250 MB)"
    quietly "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]'
    echo "$digest" >"$stamp"
}

run_checks() {
    export QT_QPA_PLATFORM=offscreen
    export PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring
    local failed=() status
    local dirs=() dir
    for dir in carehub ui tests bench; do  # git keeps no empty folder
        [[ -d "$dir" ]] && dirs+=("$dir")
    done
    say "ruff check ${dirs[*]}"
    "$VENV/bin/ruff" check "${dirs[@]}" || failed+=(ruff)
    say "mypy (strict on carehub)"
    "$VENV/bin/mypy" || failed+=(mypy)
    say "pytest"
    status=0
    "$VENV/bin/python" -m pytest -q || status=$?
    if [[ $status -eq 5 ]]; then
        printf 'setup.sh: pytest collected no test\n' >&2
        failed+=(pytest)
    elif [[ $status -ne 0 ]]; then
        failed+=(pytest)
    fi
    if [[ ${#failed[@]} -gt 0 ]]; then
        die "checks that failed: ${failed[*]}"
    fi
    say "all checks passed"
}

carehub_py() { "$VENV/bin/python" -c "$1"; }

# A keyring that really protects the key: not the "fail" stub, and not keyrings.alt
# (installed for the tests), whose plaintext file would keep the key in clear.
has_secure_keyring() {
    carehub_py '
import sys, keyring
ring = keyring.get_keyring()
backends = getattr(ring, "backends", [ring])
secure = [b for b in backends if b.priority >= 1
          and not type(b).__module__.startswith(("keyring.backends.fail", "keyrings.alt"))]
sys.exit(0 if secure else 1)' 2>/dev/null
}

choose_key_store() {
    if [[ -n "${CAREHUB_KEY_FILE:-}" ]]; then
        say "database key: key file $CAREHUB_KEY_FILE (from CAREHUB_KEY_FILE)"
    elif [[ -z "${PYTHON_KEYRING_BACKEND:-}" ]] && has_secure_keyring; then
        say "database key: the desktop keyring"
    else
        local data_dir
        data_dir="$(carehub_py 'import platformdirs; print(platformdirs.user_data_dir("CareHub", appauthor=False))')"
        export CAREHUB_KEY_FILE="$data_dir/carehub.key"
        cat <<EOF
==> NOTE: no desktop keyring (Secret Service) is usable here, so the database key
    cannot be kept in one. This demo keeps it in a key file readable by you only:
        $CAREHUB_KEY_FILE
    Anyone who can read that file can decrypt the demo database. Use the same file
    later with:  export CAREHUB_KEY_FILE="$CAREHUB_KEY_FILE"   (or carehub --key-file)
EOF
    fi
}

fill_demo_database() {
    local db patients
    db="$(carehub_py 'from carehub.db import default_db_path; print(default_db_path())')"
    if [[ ! -e "$db" ]]; then
        say "carehub init ($db)"
        "$VENV/bin/carehub" init
    fi
    patients="$("$VENV/bin/carehub" patients list --json \
                | "$VENV/bin/python" -c 'import json, sys; print(len(json.load(sys.stdin)))')"
    if [[ "$patients" -eq 0 ]]; then
        say "carehub demo --patients 2000 --seed 1"
        "$VENV/bin/carehub" demo --patients 2000 --seed 1
    else
        say "the database at $db already holds $patients patients: left as it is"
    fi
}

# No screen: run the app once on a virtual screen (Xvfb) and keep a picture of its window.
screenshot_headless() {
    local picture
    picture="$(dirname "$(carehub_py 'from carehub.db import default_db_path; print(default_db_path())')")/carehub-demo.png"
    cat <<EOF
==> NOTE: no display (\$DISPLAY / \$WAYLAND_DISPLAY are empty), so no window can be shown.
    CareHub opens once on a virtual screen (xvfb-run), waits until the caseload is
    shown, saves a picture of its window and closes. For the real thing, run this
    command again in a desktop session (or over ssh -X).
EOF
    xvfb-run -a -s "-screen 0 1600x1000x24" "$VENV/bin/carehub-gui" --screenshot "$picture"
    say "screenshot of CareHub on the demo caseload: $picture"
}

launch_demo() {
    choose_key_store
    fill_demo_database
    if [[ -n "${DISPLAY:-}" || -n "${WAYLAND_DISPLAY:-}" ]]; then
        say "starting carehub-gui"
        "$VENV/bin/carehub-gui"
    else
        screenshot_headless
    fi
}

main() {
    local mode="${1:-}"
    case "$mode" in
        demo | test) ;;
        *) printf 'usage: bash scripts/setup.sh demo|test\n' >&2; exit 2 ;;
    esac
    install_system_packages
    make_venv
    if [[ "$mode" == test ]]; then
        run_checks
    else
        launch_demo
    fi
}

main "$@"
