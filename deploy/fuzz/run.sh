#!/usr/bin/env bash
# Builds the libFuzzer targets and runs each for a set time (issue 14).
#
#   deploy/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 600 s; json events csv config webhook)
#
# Each target starts from its committed corpus (corpus/<target>/, read only) and writes what it finds to a scratch
# directory (.scratch/<target>/, not committed); at the end the scratch units that add coverage are merged into the
# committed corpus, smallest first, at most FUZZ_MERGE_MAX (25) a run and MAX_CORPUS (200) files a target in all
# (FUZZ_MERGE=0: no merge). A crash, timeout, leak or out-of-memory input is written to artifacts/<target>/ (not
# committed). Prints per target: executions, exec/s, corpus size, findings. Exits 1 if any target found something.
#
# Environment: FUZZ_BUILD=0 skips the build; FUZZ_ARGS adds libFuzzer flags (e.g. "-jobs=2 -workers=2" on a
# machine with cores to spare).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
seconds=${1:-600}
shift || true
all=(json events csv config webhook)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
max_corpus=${MAX_CORPUS:-200}
merge_max=${FUZZ_MERGE_MAX:-25}

product() {
    case "$1" in
        json) echo FuzzJSON ;; events) echo FuzzEvents ;; csv) echo FuzzCSV ;;
        config) echo FuzzConfig ;; webhook) echo FuzzWebhook ;;
        *) echo "unknown target $1 (known: ${all[*]})" >&2; exit 2 ;;
    esac
}
for target in "${targets[@]}"; do product "$target" > /dev/null || exit 2; done

# The one build command: libFuzzer's coverage and main, AddressSanitizer, release (-O) as the daemon runs.
# `--sanitize=fuzzer` makes SwiftPM link libFuzzer's main (no entry point of the target's own); the sanitizers go
# to swiftc as one `-sanitize=fuzzer,address`, after SwiftPM's: swiftc keeps only the last -sanitize= it is given,
# and SwiftPM's `--sanitize=fuzzer --sanitize=address` passes two in no fixed order (one build had no coverage).
# The C targets (libyaml in Yams among them) get AddressSanitizer from -Xcc, the coverage from --sanitize=fuzzer.
build=(swift build -c release --package-path "$here" --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address
       -Xcc -fsanitize=address)
if [ "${FUZZ_BUILD:-1}" != 0 ]; then
    echo "== ${build[*]}"
    "${build[@]}" || { echo "build failed" >&2; exit 2; }
fi
bin=$("${build[@]}" --show-bin-path)

# Leak checks off: the Swift runtime's metadata caches and Foundation's singletons stay allocated on purpose and
# LeakSanitizer would report them. Memory errors (ASan) and traps still stop a run.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
# Swift's own backtracer runs inside the crashed process, where AddressSanitizer reports its reads as errors of their
# own; libFuzzer's handler prints the stack and writes the input instead.
export SWIFT_BACKTRACE=enable=no

summary=()
failed=0
for target in "${targets[@]}"; do
    name=$(product "$target")
    corpus="$here/corpus/$target"
    scratch="$here/.scratch/$target"
    artifacts="$here/artifacts/$target"
    mkdir -p "$corpus" "$scratch/corpus" "$artifacts"
    # The csv and config targets write their files under TMPDIR: a tmpfs when there is one (ext4's journal made
    # the csv target three times slower), else the scratch directory.
    if [ -d /dev/shm ] && [ -w /dev/shm ]; then work=$(mktemp -d /dev/shm/insightd-fuzz-"$target".XXXXXX)
    else work="$scratch/tmp"; rm -rf "$work" && mkdir -p "$work"; fi
    dict=()
    [ -f "$here/dict/$target.dict" ] && dict=(-dict="$here/dict/$target.dict")
    before=$(ls "$artifacts" | wc -l)
    log="$scratch/fuzz.log"
    echo "== $target: $name for ${seconds}s (log $log)"
    # shellcheck disable=SC2086
    TMPDIR="$work" "$bin/$name" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" ${FUZZ_ARGS:-} \
        "$scratch/corpus" "$corpus" > "$log" 2>&1
    status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    corp=$(grep -o 'corp: [0-9]*/[0-9a-zA-Z]*' "$log" | tail -1 | sed 's/corp: //')
    new=$(($(ls "$artifacts" | wc -l) - before))
    if [ "$status" -ne 0 ] || [ "$new" -gt 0 ]; then
        failed=1
        grep -E 'Fatal error|==ERROR|ERROR: libFuzzer|^SUMMARY|Test unit written' "$log" | head -6 | sed 's/^/   /'
        echo "   artifacts: $(ls -t "$artifacts" | head -$((new > 0 ? new : 1)) | sed "s|^|$artifacts/|" | tr '\n' ' ')"
        verdict="FOUND (exit $status, $new new artifact(s) in artifacts/$target/)"
    else
        verdict="none"
    fi
    summary+=("$(printf '%-8s %12s execs %8s exec/s  corpus %-12s peak RSS %5s MB  findings: %s' \
        "$target" "${execs:-?}" "${rate:-?}" "${corp:-?}" "${rss:-?}" "$verdict")")

    if [ "${FUZZ_MERGE:-1}" != 0 ] && [ "$(ls "$scratch/corpus" | wc -l)" -gt 0 ]; then
        # The units of scratch that add coverage to the committed corpus, smallest first, up to the cap.
        merged="$scratch/merged"
        rm -rf "$merged" && mkdir -p "$merged"
        cp "$corpus"/* "$merged"/ 2> /dev/null
        TMPDIR="$work" "$bin/$name" -merge=1 -rss_limit_mb=2048 -timeout=10 "$merged" "$scratch/corpus" \
            > "$scratch/merge.log" 2>&1
        room=$((max_corpus - $(ls "$corpus" | wc -l)))
        [ "$room" -gt "$merge_max" ] && room=$merge_max
        added=0
        while read -r file && [ "$room" -gt 0 ]; do
            [ -e "$corpus/$file" ] && continue
            cp "$merged/$file" "$corpus/$file"
            room=$((room - 1)); added=$((added + 1))
        done < <(cd "$merged" && ls -S -r)
        echo "   merged $added new unit(s) into corpus/$target ($(ls "$corpus" | wc -l) files)"
    fi
    rm -rf "$work"
done

echo
echo "== summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit $failed
