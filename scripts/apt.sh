# Sourced by setup.sh and test.sh: installs the Debian packages that are missing, with one
# `apt-get update` per chain of scripts (CREST_APT_UPDATED is exported after it).
#   apt_install_missing [--no-install-recommends] PACKAGE...
# CREST_NO_APT=1, or a system without dpkg, skips it; what is missing then fails later with
# its own message.
apt_install_missing() {
  local options=()
  if [ "${1:-}" = "--no-install-recommends" ]; then
    options=("$1")
    shift
  fi
  if [ "${CREST_NO_APT:-0}" = "1" ] || ! command -v dpkg-query >/dev/null 2>&1; then
    return 0
  fi
  local missing=() package
  for package in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$package")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then return 0; fi
  echo "installing ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "these packages are missing and this user cannot install them: ${missing[*]}" >&2
      echo "run as root, install them, or set CREST_NO_APT=1 and CMAKE_PREFIX_PATH" >&2
      return 1
    fi
  fi
  if [ "${CREST_APT_UPDATED:-0}" != "1" ]; then
    "${sudo[@]}" apt-get update -qq
    export CREST_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${options[@]}" \
    "${missing[@]}" >/dev/null
}
