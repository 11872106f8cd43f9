# Sourced by .ci scripts. `step NAME COMMAND...` runs one command (a program or a script, so that
# `set -e` holds inside it), then prints how long it took, and whether it failed.
STEP_TIMES=()

step() {
    local name=$1 started=$EPOCHREALTIME status=0 elapsed
    shift
    echo "==> $name"
    "$@" || status=$?
    elapsed=$(awk -v from="$started" -v to="$EPOCHREALTIME" 'BEGIN { printf "%.1f", to - from }')
    if [ "$status" -eq 0 ]; then
        echo "==> $name: ${elapsed} s"
        STEP_TIMES+=("${elapsed} s  $name")
    else
        echo "==> $name: FAILED (exit $status) after ${elapsed} s"
        STEP_TIMES+=("${elapsed} s  $name (FAILED)")
    fi
    return "$status"
}

print_step_times() {
    echo "==> step times"
    printf '    %s\n' "${STEP_TIMES[@]}"
}
