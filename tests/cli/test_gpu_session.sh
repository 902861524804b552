# scripts/gpu_session.sh (the device command's wrapper) refuses to start without the bundle that
# ../shared/tools/gpu-bundle.sh writes, naming what to run; it is tried from a copy of the script
# so that a .gpu/ left in the source tree does not matter.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
mkdir -p "$WORK/repo/scripts"
cp "$SRC/scripts/gpu_session.sh" "$WORK/repo/scripts/"
bash "$WORK/repo/scripts/gpu_session.sh" --runs >"$OUT" 2>"$ERR"
CODE=$?
expect_code 2 "no .gpu bundle"
expect_err "no .gpu/env.sh" "names the missing file"
expect_err "gpu-bundle.sh" "says what to run"
finish
