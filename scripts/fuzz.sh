#!/usr/bin/env bash
# Runs the fuzz targets of fuzz/ (cargo-fuzz, libFuzzer, AddressSanitizer) for a given time each
# and records what happened.
#
#   scripts/fuzz.sh [--jobs N] [--merge] SECONDS [TARGET ...]
#
# Every target (default: all of fuzz/fuzz_targets/) runs for SECONDS on its committed corpus
# (fuzz/corpus/<target>, read only) plus a working corpus in target/fuzz/corpus/<target> that
# keeps what earlier runs found, so a long campaign can be spread over many runs. Per target it
# records executions, executions per second, new coverage units, peak RSS and findings
# (crash-, leak-, timeout- and oom- files libFuzzer writes to fuzz/artifacts/<target>/) to
# target/fuzz/results.md and prints the table. A finding exits 1 after every target has run.
#
#   --jobs N     N libFuzzer processes per target (-fork=N): executions add up, wall time not
#   --merge      afterwards, merge the working corpus into fuzz/corpus/<target> (libFuzzer's
#                -merge=1 keeps only inputs that add coverage), to commit the finds
#
# Limits of one input: 10 s (-timeout; the video harness's own deadline is 5 s) and 2 GiB of
# RSS (-rss_limit_mb; the decoders' own caps are far below). A finding is fixed in the product,
# and its input kept in fuzz/regressions/<target>/, which the corpus replay
# (fuzz/tests/corpus.rs, run by scripts/test.sh) runs on stable in every test run.
#
# LIVEPROOF_FUZZ_OUT (default target/fuzz) holds the working corpora, logs and results, so two
# campaigns can run side by side. Needs the nightly toolchain pinned below and cargo-fuzz
# (scripts/install-deps.sh --fuzz installs both).
set -euo pipefail
cd "$(dirname "$0")/.."

toolchain="${LIVEPROOF_FUZZ_TOOLCHAIN:-nightly-2026-05-20}"
jobs=1 merge=0
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) jobs="$2"; shift 2 ;;
    --merge) merge=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "usage: scripts/fuzz.sh [--jobs N] [--merge] SECONDS [TARGET ...]" >&2; exit 2; }
seconds="$1"; shift
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -gt 0 ] || { echo "fuzz.sh: SECONDS must be a positive integer" >&2; exit 2; }

all_targets=()
for f in fuzz/fuzz_targets/*.rs; do all_targets+=("$(basename "$f" .rs)"); done
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [ -f "fuzz/fuzz_targets/$t.rs" ] || { echo "fuzz.sh: no target $t (have: ${all_targets[*]})" >&2; exit 2; }
  [ -n "$(ls -A "fuzz/corpus/$t" 2>/dev/null)" ] || { echo "fuzz.sh: fuzz/corpus/$t is missing or empty" >&2; exit 2; }
done

command -v cargo-fuzz >/dev/null || { echo "fuzz.sh: cargo-fuzz is missing (scripts/install-deps.sh --fuzz)" >&2; exit 2; }
rustup run "$toolchain" rustc --version >/dev/null 2>&1 \
  || { echo "fuzz.sh: toolchain $toolchain is missing (scripts/install-deps.sh --fuzz)" >&2; exit 2; }

# The harnesses that load models (batch_zip) find them here, as the replay does.
scripts/setup-models.sh >/dev/null
export LIVEPROOF_MODELS="${LIVEPROOF_MODELS:-$PWD/models}"

out="${LIVEPROOF_FUZZ_OUT:-target/fuzz}"
mkdir -p "$out/logs"
out=$(cd "$out" && pwd)
echo "== cargo +$toolchain fuzz build ($(date +%T))"
start=$(date +%s)
# One build of every target: after the first (instrumenting every dependency) each is a link.
(cd fuzz && cargo "+$toolchain" fuzz build --release) >"$out/logs/build.log" 2>&1 \
  || { tail -20 "$out/logs/build.log" >&2; echo "fuzz.sh: the build failed" >&2; exit 1; }
echo "   built in $(( $(date +%s) - start )) s"

final_stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -1; }

results="$out/results.md"
{
  echo "# Fuzzing run $(date -u +%FT%TZ)"
  echo
  echo "$(git rev-parse --short HEAD 2>/dev/null || echo '?') · $toolchain · $(nproc) cores · ${seconds} s a target · -fork=$jobs"
  echo
  echo "| target | seconds | executions | exec/s | new units | corpus | peak RSS MiB | findings |"
  echo "|---|---:|---:|---:|---:|---:|---:|---|"
} >"$results"

found=0
for t in "${targets[@]}"; do
  work="$out/corpus/$t"
  artifacts="fuzz/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  before=$(ls "$artifacts" | wc -l)
  log="$out/logs/run-$t.log"
  echo "== $t: ${seconds} s ($(date +%T))"
  fork=()
  [ "$jobs" -gt 1 ] && fork=(-fork="$jobs")
  set +e
  (cd fuzz && cargo "+$toolchain" fuzz run --release "$t" "$work" "corpus/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="artifacts/$t/" "${fork[@]}") >"$log" 2>&1
  rc=$?
  set -e
  execs=$(final_stat number_of_executed_units "$log"); rate=$(final_stat average_exec_per_sec "$log")
  units=$(final_stat new_units_added "$log"); rss=$(final_stat peak_rss_mb "$log")
  if [ "$jobs" -gt 1 ]; then
    # -fork prints no final stats: its status lines carry the running totals (no new-unit
    # count or RSS).
    line=$(grep -E '^#[0-9]+: cov: .* exec/s: ' "$log" | tail -1 || true)
    execs=$(sed -n 's/^#\([0-9]*\):.*/\1/p' <<<"$line"); rate=$(sed -n 's/.* exec\/s: \([0-9]*\).*/\1/p' <<<"$line")
    units="-"; rss="-"
  fi
  corpus=$(( $(ls "$work" | wc -l) + $(ls "fuzz/corpus/$t" | wc -l) ))
  new_findings=$(ls -t "$artifacts" | head -n $(( $(ls "$artifacts" | wc -l) - before )) | tr '\n' ' ')
  verdict="none"
  if [ -n "$new_findings" ] || { [ "$rc" -ne 0 ] && [ -z "$execs" ]; }; then
    found=1
    verdict="**${new_findings:-exit $rc, see $log}**"
    echo "   finding: ${new_findings:-exit $rc} (log: $log)" >&2
    grep -m1 -E 'panicked at|ERROR: (libFuzzer|AddressSanitizer)' "$log" >&2 || true
  elif [ "$rc" -ne 0 ]; then
    found=1
    verdict="**exit $rc, see $log**"
  fi
  echo "| $t | $seconds | ${execs:-?} | ${rate:-?} | ${units:-?} | $corpus | ${rss:-?} | $verdict |" >>"$results"
  echo "   ${execs:-?} executions, ${rate:-?}/s, ${units:-?} new units, corpus $corpus"
  if [ "$merge" = 1 ]; then
    # -merge=1 adds to the first directory what the others hold beyond its coverage, named by
    # content hash; the committed seeds keep their names.
    (cd fuzz && cargo "+$toolchain" fuzz run --release "$t" "corpus/$t" "$work" -- -merge=1 \
      -timeout=10 -rss_limit_mb=2048) >"$out/logs/merge-$t.log" 2>&1 \
      || { tail -5 "$out/logs/merge-$t.log" >&2; echo "fuzz.sh: merging $t failed" >&2; exit 1; }
  fi
done

echo
cat "$results"
[ "$found" = 0 ] || { echo "fuzz.sh: findings above; reproduce with: cd fuzz && cargo +$toolchain fuzz run TARGET artifacts/TARGET/FILE" >&2; exit 1; }
