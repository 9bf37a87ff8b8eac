#!/usr/bin/env bash
# Load benchmark of the verification server on loopback, with wrk (Debian's `wrk` package;
# installed with apt-get when missing) and benches/wrk-multipart.lua.
#
#   scripts/bench-server.sh [--duration S] [--soak S] [--json PATH] [--markdown PATH]
#       [--video-duration S] [--image FILE] [--video FILE] [--pool-size N] [--queue N] [--concurrency N]
#       [--soak-media image|video|mixed] [--scenarios image,video,session,saturation,soak,abuse]
#       [--session-source FILE] [--session-challenges LIST] [--session-duration S]
#       [--port N] [--timeout S] [--rss-tolerance PCT] [--no-build] [--keep]
#
# Builds the release server (cargo build --release -p liveproof-server), links the models
# (scripts/setup-models.sh), starts the server on 127.0.0.1 with a temporary config derived
# from server/config.example.toml (database ":memory:", a fresh HS256 secret, [pool] size =
# --pool-size (default: cores), queue = --queue (default 4), static files off), mints a JWT
# for it with openssl, waits for /readyz, sends each request kind a few times alone (checks
# it answers 200 and records its unloaded latency), then runs for a fixed time each:
#
#   image       POST /v2/liveness, still only, concurrency = pool capacity (size + queue)
#   video       POST /v2/liveness, still + video, same concurrency
#   session     the SDK flow's verification (benches/session-bench.mjs, Node): per session a
#               relying party's POST /v1/sessions narrowed to --session-challenges (re-created
#               until the drawn order is the recording's), then the signed evidence bundle of a
#               typical session (a 10 s, 640x480, 30 fps VP8 WebM at 1 Mbit/s like the SDK's
#               MediaRecorder, cut from --session-source; 12 JPEG frames; records), timed from
#               the POST to the verdict. First 10 sessions one at a time (the cost of one
#               session), then --pool-size clients back to back for --session-duration
#               (sessions per minute). Every verdict must be REAL. Then `liveproof replay
#               --repeat 5` on the same recording says where the time goes (decode, detector,
#               mesh, anti-spoofing, embeddings, the rest). The goal is <= 1 s per session.
#   saturation  still only, concurrency = 2 x (size + queue): the pool must refuse the excess
#               with 503 + Retry-After, and nothing else may fail (no other 5xx or 4xx, no
#               socket errors); /healthz is probed every second during the run; afterwards the
#               process must be alive, /healthz 200 and a normal request 200
#   soak        the same 2x saturation (--soak-media, default still only) for --soak seconds,
#               server RSS (VmRSS of /proc/<pid>/status) sampled every 5 s: start, median,
#               max, end, growth (end - start) and the second half's least-squares slope
#               (MiB/min); "flat"
#               when the growth over the second half of the soak (end - RSS at half time; a
#               leak keeps growing there, while allocator arenas and caches fill in the first
#               minutes) is <= --rss-tolerance % of start (default 5); the same after-checks
#               as saturation
#   abuse       legitimate clients (still only, --pool-size connections, the pool's workers)
#               for --duration alone, then the same again beside the attackers of
#               benches/abuse-bench.mjs (issue 10's findings, as they were found): 12 clients
#               posting 30 MiB anonymous evidence bodies, 200 slowloris connections, 2 clients
#               posting a 16-bit 8192 x 8192 PNG bomb with a valid token, 2 anonymous clients
#               flooding public sessions with 60- and 16-frame PNG bundles. Checked: the
#               legitimate clients' success rate (>= 99 % 2xx, no socket errors), their p99
#               beside the attackers against their own p99 alone (<= 3x: the attackers run on
#               the same machine and take CPU from it, the public flood may hold one worker),
#               server RSS growth during the attack (<= 256 MiB: nothing buffers a body or
#               decodes a bomb), /healthz every second, the attackers' answers (only the
#               refusals each must get; benches/abuse-bench.mjs), and the after-checks
#
# Queue default 4: with 2 workers a request waits at most two service times before running,
# so latency at capacity stays about 3x the unloaded latency, while a short burst of up to
# size + queue callers is absorbed without a 503.
#
# Prints a Markdown table (also written to --markdown PATH if given) and writes a JSON summary
# to --json PATH (default target/bench-server.json). Latency percentiles are wrk's (--latency
# histogram, read in the Lua done()), over every completed response of the scenario: in the
# saturation runs they mix fast 503s with full pipeline runs; "2xx/s" is the useful throughput.
# wrk runs on the same machine as the server (it takes a few % of one core).
#
# Exit status: 0 all checks passed; 1 setup failure (message on stderr; the work directory
# with the server log is kept); 2 a check failed (outputs still written).
# Never leaves a process behind: the server, wrk and the samplers are stopped on exit.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
media=${LIVEPROOF_MEDIA:-$repo/../shared/media}

duration=30
soak=300
video_duration=""
json_out=$repo/target/bench-server.json
md_out=""
image=$media/live/fr_obama.jpg
video=$media/video_live/tps_driving_talking.mp4
session_source=$media/video_live/tvl_real_head_turns.mp4
session_challenges="LOOK LEFT,LOOK RIGHT"
session_duration=""
pool_size=$(nproc)
queue=4
concurrency=""
soak_media=image
scenarios=image,video,session,saturation,soak,abuse
port=""
timeout=120
rss_tolerance=5
build=1
keep=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "bench-server: $*" >&2; fail=1; exit 1; }
need_arg() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) need_arg "$@"; duration=$2; shift 2 ;;
    --soak) need_arg "$@"; soak=$2; shift 2 ;;
    --video-duration) need_arg "$@"; video_duration=$2; shift 2 ;;
    --json) need_arg "$@"; json_out=$2; shift 2 ;;
    --markdown) need_arg "$@"; md_out=$2; shift 2 ;;
    --image) need_arg "$@"; image=$2; shift 2 ;;
    --video) need_arg "$@"; video=$2; shift 2 ;;
    --session-source) need_arg "$@"; session_source=$2; shift 2 ;;
    --session-challenges) need_arg "$@"; session_challenges=$2; shift 2 ;;
    --session-duration) need_arg "$@"; session_duration=$2; shift 2 ;;
    --pool-size) need_arg "$@"; pool_size=$2; shift 2 ;;
    --queue) need_arg "$@"; queue=$2; shift 2 ;;
    --concurrency) need_arg "$@"; concurrency=$2; shift 2 ;;
    --soak-media) need_arg "$@"; soak_media=$2; shift 2 ;;
    --scenarios) need_arg "$@"; scenarios=$2; shift 2 ;;
    --port) need_arg "$@"; port=$2; shift 2 ;;
    --timeout) need_arg "$@"; timeout=$2; shift 2 ;;
    --rss-tolerance) need_arg "$@"; rss_tolerance=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench-server: unknown argument $1 (see --help)" >&2; exit 1 ;;
  esac
done

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
video_duration=${video_duration:-$duration}
session_duration=${session_duration:-$duration}
for v in duration video_duration session_duration soak pool_size queue timeout rss_tolerance; do
  is_uint "${!v}" || die "--${v//_/-} must be a non-negative integer, got '${!v}'"
done
[ "$duration" -gt 0 ] && [ "$video_duration" -gt 0 ] && [ "$pool_size" -gt 0 ] \
  || die "--duration, --video-duration and --pool-size must be > 0"
[ -z "$concurrency" ] || { is_uint "$concurrency" && [ "$concurrency" -gt 0 ]; } \
  || die "--concurrency must be a positive integer"
[ -z "$port" ] || is_uint "$port" || die "--port must be a number"
case "$soak_media" in image|video|mixed) ;; *) die "--soak-media must be image, video or mixed" ;; esac
for s in ${scenarios//,/ }; do
  case "$s" in image|video|session|saturation|soak|abuse) ;; *) die "unknown scenario '$s'" ;; esac
done
want() { [[ ",$scenarios," == *",$1,"* ]]; }
[ -f "$image" ] || die "still image not found: $image (--image, or LIVEPROOF_MEDIA)"
if want video || [ "$soak_media" != image ]; then
  [ -f "$video" ] || die "video not found: $video (--video, or LIVEPROOF_MEDIA)"
fi
if want abuse; then
  for t in node ffmpeg; do command -v "$t" >/dev/null || die "'$t' is required for the abuse scenario"; done
fi
if want session; then
  [ -f "$session_source" ] || die "session source not found: $session_source (--session-source)"
  for t in node ffmpeg; do command -v "$t" >/dev/null || die "'$t' is required for the session scenario"; done
fi
image=$(cd "$(dirname "$image")" && pwd)/$(basename "$image")
video=$(cd "$(dirname "$video")" 2>/dev/null && pwd)/$(basename "$video")
capacity=$((pool_size + queue))
conc_normal=${concurrency:-$capacity}
conc_sat=$((2 * capacity))
lua=$repo/benches/wrk-multipart.lua
[ -f "$lua" ] || die "missing $lua"

# --- tools -------------------------------------------------------------------------------
for t in curl openssl awk sort; do
  command -v "$t" >/dev/null || die "'$t' is required (apt-get install $t)"
done
if ! command -v wrk >/dev/null; then
  echo "bench-server: installing wrk (apt-get)" >&2
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
      --no-install-recommends wrk; } >&2 || die "could not install wrk; apt-get install wrk"
  command -v wrk >/dev/null || die "wrk is still missing after apt-get"
fi

# --- state and cleanup -------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-server.XXXXXX")
server_pid=""
bg_pids=()
fail=0
stop_pid() { # pid: TERM, then KILL after 10 s
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for p in "${bg_pids[@]}"; do stop_pid "$p"; done
  [ -n "$server_pid" ] && stop_pid "$server_pid"
  if [ "$keep" = 1 ] || [ "$rc" != 0 ] || [ "$fail" != 0 ]; then
    echo "bench-server: work directory kept: $work (config, server.log, raw wrk output)" >&2
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
start_bg() { "$@" & bg_pids+=("$!"); }
stop_bg() { stop_pid "$1"; local a=() p; for p in "${bg_pids[@]}"; do [ "$p" = "$1" ] || a+=("$p"); done; bg_pids=("${a[@]}"); }

# --- build, models -----------------------------------------------------------------------
target_dir=${CARGO_TARGET_DIR:-$repo/target}
bin=$target_dir/release/liveproof-server
cli=$target_dir/release/liveproof
if [ "$build" = 1 ]; then
  echo "== cargo build --release -p liveproof-server -p liveproof --bins ($(date +%T))" >&2
  (cd "$repo" && cargo build --release -p liveproof-server -p liveproof --bins) >&2 || die "release build failed"
fi
[ -x "$bin" ] || die "no server binary at $bin (drop --no-build)"
! want session || [ -x "$cli" ] || die "no CLI at $cli (drop --no-build)"
"$repo/scripts/setup-models.sh" >/dev/null || die "scripts/setup-models.sh failed"

# --- config, token -----------------------------------------------------------------------
if [ -z "$port" ]; then
  for p in $(seq 18080 18180); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { port=$p; break; }
  done
  [ -n "$port" ] || die "no free port in 18080-18180 (--port)"
fi
base=http://127.0.0.1:$port
secret=$(openssl rand -hex 32)
config=$work/config.toml
awk -v addr="127.0.0.1:$port" -v secret="$secret" -v size="$pool_size" -v queue="$queue" '
  /^\[/ { section = $0 }
  section == "" && /^addr *=/        { print "addr = \"" addr "\""; next }
  section == "" && /^database *=/    { print "database = \":memory:\""; next }
  section == "[jwt]" && /^algorithm *=/ { print "algorithm = \"HS256\""; next }
  section == "[jwt]" && /^secret *=/ { print "secret = \"" secret "\""; next }
  section == "[pool]" && /^size *=/  { print "size = " size; next }
  section == "[pool]" && /^queue *=/ { print "queue = " queue; next }
  section == "[static]" && /^(www|pkg)_dir *=/ { print "# " $0 " (not served by the benchmark)"; next }
  section == "[verification]" && /^recording_slack_ms *=/ { print "recording_slack_ms = 3600000  # the benchmark recording predates its sessions"; next }
  { print }' "$repo/server/config.example.toml" >"$config"
for line in "addr = \"127.0.0.1:$port\"" 'database = ":memory:"' "secret = \"$secret\"" \
    "size = $pool_size" "queue = $queue"; do
  grep -qxF "$line" "$config" || die "could not derive the config from server/config.example.toml (no '$line')"
done
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
now=$(date +%s)
jwt_head=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
jwt_body=$(printf '{"sub":"bench-server","scope":"liveness sessions metrics","iat":%d,"exp":%d}' "$now" $((now + 86400)) | b64url)
jwt_sig=$(printf '%s.%s' "$jwt_head" "$jwt_body" | openssl dgst -sha256 -hmac "$secret" -binary | b64url)
token=$jwt_head.$jwt_body.$jwt_sig

# --- server ------------------------------------------------------------------------------
unset_env=()
for v in $(compgen -e | grep '^LIVEPROOF_' || true); do unset_env+=(-u "$v"); done
(cd "$repo" && exec env "${unset_env[@]}" LIVEPROOF_CONFIG="$config" \
   LIVEPROOF_MODELS="$repo/models" RUST_LOG="${RUST_LOG:-info}" "$bin") >"$work/server.log" 2>&1 &
server_pid=$!
sleep 0.2
[ "$(readlink -f "/proc/$server_pid/exe" 2>/dev/null)" = "$(readlink -f "$bin")" ] \
  || { tail -n 20 "$work/server.log" >&2; die "pid $server_pid is not the server binary"; }
server_dead() {
  kill -0 "$server_pid" 2>/dev/null && return 1
  echo "bench-server: the server (pid $server_pid) is gone; last log lines:" >&2
  tail -n 20 "$work/server.log" >&2
  return 0
}
echo "== server pid $server_pid on $base, pool size $pool_size, queue $queue ($(date +%T))" >&2
for i in $(seq 1 600); do
  server_dead && die "the server exited during start-up"
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz" || true)" = 200 ] && break
  [ "$i" = 600 ] && die "/readyz not 200 after 120 s (see $work/server.log)"
  sleep 0.2
done
metric() { curl -sf -H "Authorization: Bearer $token" "$base/metrics" | awk -v m="$1" '$1 == m { print $2; exit }'; }
[ "$(metric liveproof_pool_size)" = "$pool_size" ] && [ "$(metric liveproof_pool_queue_capacity)" = "$queue" ] \
  || die "the server does not report pool size $pool_size / queue $queue in /metrics"
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$server_pid/status" 2>/dev/null || echo 0; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$server_pid/status" 2>/dev/null || echo 0; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
rss_ready=$(rss_kib)

# --- helpers -----------------------------------------------------------------------------
spec_image="image=$image"
spec_video="image=$image,video=$video"
post() { # out_file spec -> "status seconds"
  local out=$1 spec=$2 args=() f
  IFS=, read -ra fields <<<"$spec"
  for f in "${fields[@]}"; do args+=(-F "${f%%=*}=@${f#*=}"); done
  curl -sS -o "$out" -w '%{http_code} %{time_total}' --max-time "$timeout" \
    -H "Authorization: Bearer $token" "${args[@]}" "$base/v2/liveness" || echo "000 0"
}
wait_drained() { # waits until no request is running or queued; prints the seconds waited
  local t0 a; t0=$(date +%s.%N)
  for _ in $(seq 1 $((timeout * 5))); do
    a=$(metric liveproof_pool_admitted || true)
    [ "$a" = 0 ] && break
    sleep 0.2
  done
  awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}
# "server_ticks machine_total_ticks machine_busy_ticks": the server's utime + stime
# (/proc/<pid>/stat, all threads) and the machine's jiffies (/proc/stat, busy = all but idle
# and iowait). Server CPU % is of one core (up to 100 x cores); machine CPU % of all cores.
cpu_snapshot() {
  local srv
  srv=$(sed 's/.*) //' "/proc/$server_pid/stat" 2>/dev/null | awk '{ print $12 + $13 }')
  awk -v s="${srv:-0}" '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print s, t, t - $5 - $6; exit }' /proc/stat
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Unloaded latency and a correctness check of each request kind (also the warm-up).
declare -A single_ms
for kind in image video; do
  [ "$kind" = video ] && ! want video && [ "$soak_media" = image ] && continue
  spec=$spec_image; [ "$kind" = video ] && spec=$spec_video
  times=()
  for i in 1 2 3; do
    read -r code secs <<<"$(post "$work/single-$kind.json" "$spec")"
    [ "$code" = 200 ] || die "a single $kind request answered $code: $(head -c 400 "$work/single-$kind.json")"
    grep -q '"overall_result"' "$work/single-$kind.json" || die "a single $kind request gave no v2 document"
    times+=("$secs")
  done
  single_ms[$kind]=$(printf '%s\n' "${times[@]}" | median | awk '{ printf "%.0f", $1 * 1000 }')
  echo "   single $kind request: ${single_ms[$kind]} ms (median of 3), overall_result $(grep -o '"overall_result":"[^"]*"' "$work/single-$kind.json" | cut -d'"' -f4)" >&2
done

# run_wrk NAME CONCURRENCY SECONDS SPEC...: runs wrk, leaves W_* variables and $work/NAME.json.
run_wrk() {
  local name=$1 conc=$2 secs=$3; shift 3
  local rej0 rej1 pid cpu0 cpu1
  rej0=$(metric liveproof_pool_rejected_total)
  cpu0=$(cpu_snapshot)
  echo "== $name: $conc connections, ${secs} s ($(date +%T))" >&2
  BENCH_TOKEN=$token BENCH_OUT=$work/$name wrk -t1 -c"$conc" -d"${secs}s" --timeout "${timeout}s" \
    --latency -s "$lua" "$base/v2/liveness" -- "$@" >"$work/$name.wrk.txt" 2>&1 &
  pid=$!; bg_pids+=("$pid")
  wait "$pid" || { cat "$work/$name.wrk.txt" >&2; die "wrk failed in $name"; }
  stop_bg "$pid"
  cpu1=$(cpu_snapshot)
  read -r W_CPU_SERVER W_CPU_MACHINE <<<"$(echo "$cpu0 $cpu1" | awk -v n="$(nproc)" '{
    total = $6 - $3; if (total <= 0) total = 1
    printf "%.0f %.0f", 100 * n * ($4 - $1) / total, 100 * ($5 - $2) / total }')"
  [ -f "$work/$name.env" ] || { cat "$work/$name.wrk.txt" >&2; die "wrk wrote no summary in $name"; }
  # shellcheck disable=SC1090
  source "$work/$name.env"
  server_dead && die "the server died during $name"
  W_DRAIN=$(wait_drained)
  rej1=$(metric liveproof_pool_rejected_total)
  W_REJECTED=$((rej1 - rej0))
  W_RSS=$(rss_kib)
  W_5XX_OTHER=0; W_4XX=0; W_503=0
  local s
  for s in $W_STATUSES; do
    case "${s%%:*}" in 503) W_503=${s#*:} ;; 5*) W_5XX_OTHER=$((W_5XX_OTHER + ${s#*:})) ;; 4*) W_4XX=$((W_4XX + ${s#*:})) ;; esac
  done
  W_SOCKET_ERR=$((W_ERR_CONNECT + W_ERR_READ + W_ERR_WRITE + W_ERR_TIMEOUT))
  echo "   $W_REQUESTS responses, $W_RPS req/s, $W_OK_RPS 2xx/s, p50 $W_P50 ms, p99 $W_P99 ms, statuses [$W_STATUSES], socket errors $W_SOCKET_ERR, server CPU $W_CPU_SERVER %, machine CPU $W_CPU_MACHINE %, drained in $W_DRAIN s" >&2
}

# normal_checks NAME: at capacity every request is admitted: only 2xx, and enough of them.
normal_checks() {
  check "$1: only 2xx" "$([ "$W_OK" = "$W_REQUESTS" ] && [ "$W_SOCKET_ERR" = 0 ] && echo 1 || echo 0)" \
    "[$W_STATUSES], socket errors $W_SOCKET_ERR"
  check "$1: responses completed" "$([ "$W_REQUESTS" -gt 0 ] && echo 1 || echo 0)" \
    "$W_REQUESTS$([ "$W_REQUESTS" -lt 20 ] && echo " (fewer than 20: percentiles are rough; raise --duration)")"
}
checks_json=()
check() { # name ok(0/1) detail
  local mark=PASS; [ "$2" = 1 ] || { mark=FAIL; fail=2; }
  checks_json+=("{\"check\": \"$1\", \"pass\": $([ "$2" = 1 ] && echo true || echo false), \"detail\": \"$3\"}")
  check_lines+=("- $mark $1: $3")
}
check_lines=()

# after_checks NAME: server alive, /healthz 200, a normal request 200 (after the pool drained).
after_checks() {
  local name=$1 code secs hz
  kill -0 "$server_pid" 2>/dev/null && check "$name: server alive" 1 "pid $server_pid" \
    || { check "$name: server alive" 0 "process gone"; return; }
  hz=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$base/healthz" || echo 000)
  check "$name: /healthz after" "$([ "$hz" = 200 ] && echo 1 || echo 0)" "HTTP $hz"
  read -r code secs <<<"$(post "$work/after-$name.json" "$spec_image")"
  check "$name: normal request after" "$([ "$code" = 200 ] && echo 1 || echo 0)" \
    "HTTP $code in $(awk -v s="$secs" 'BEGIN { printf "%.0f", s * 1000 }') ms, pool drained ${W_DRAIN} s after the run"
}

# saturation_checks NAME: only 503s with Retry-After beyond the 2xx, no other failure.
saturation_checks() {
  local name=$1
  check "$name: 503 share" "$([ "$W_503" -gt 0 ] && echo 1 || echo 0)" \
    "$W_503 of $W_REQUESTS responses are 503 ($(awk -v a="$W_503" -v b="$W_REQUESTS" 'BEGIN { printf "%.1f", b ? 100 * a / b : 0 }') %); server counted $W_REJECTED rejections"
  check "$name: Retry-After on every 503" "$([ "$W_RA_MISSING" = 0 ] && echo 1 || echo 0)" \
    "$W_RA_PRESENT with, $W_RA_MISSING without"
  check "$name: no other 5xx" "$([ "$W_5XX_OTHER" = 0 ] && echo 1 || echo 0)" "$W_5XX_OTHER"
  check "$name: no 4xx" "$([ "$W_4XX" = 0 ] && echo 1 || echo 0)" "$W_4XX"
  check "$name: no socket errors or timeouts" "$([ "$W_SOCKET_ERR" = 0 ] && echo 1 || echo 0)" \
    "connect $W_ERR_CONNECT, read $W_ERR_READ, write $W_ERR_WRITE, timeout $W_ERR_TIMEOUT"
  check "$name: some requests still succeed" "$([ "$W_OK" -gt 0 ] && echo 1 || echo 0)" "$W_OK 2xx"
}

# Probes /healthz every second into FILE ("http_code seconds" lines) until killed.
probe_health() {
  trap 'kill "$!" 2>/dev/null; exit 0' TERM
  while :; do
    curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 10 "$base/healthz" >>"$1" || echo "000 10" >>"$1"
    sleep 1 & wait "$!"
  done
}
# Samples the server's VmRSS every 5 s into FILE ("elapsed_s kib" lines) until killed.
sample_rss() {
  trap 'kill "$!" 2>/dev/null; exit 0' TERM
  local t0=$SECONDS
  while :; do echo "$((SECONDS - t0)) $(rss_kib)" >>"$1"; sleep 5 & wait "$!"; done
}

rows=()
results_json=()
row() { # name media conc
  rows+=("| $1 | $2 | $3 | ${W_DURATION%.*} s | $W_RPS | $W_OK_RPS | $W_P50 | $W_P90 | $W_P99 | $W_MAX | $W_STATUSES | $W_SOCKET_ERR | $W_CPU_SERVER % | $W_CPU_MACHINE % |")
  results_json+=("\"$1\": {\"media\": \"$2\", \"concurrency\": $3, \"wrk\": $(cat "$work/$1.json"), \"server_rejected\": $W_REJECTED, \"drain_s\": $W_DRAIN, \"cpu_pct\": {\"server_of_one_core\": $W_CPU_SERVER, \"machine_of_all_cores\": $W_CPU_MACHINE}, \"rss_after_mib\": $(mib "$W_RSS")${4:+, $4}}")
}

# --- scenarios ---------------------------------------------------------------------------
if want image; then
  run_wrk image "$conc_normal" "$duration" "$spec_image"
  normal_checks image
  row image image "$conc_normal"
fi
if want video; then
  run_wrk video "$conc_normal" "$video_duration" "$spec_video"
  normal_checks video
  row video image+video "$conc_normal"
fi
session_md=""
if want session; then
  # A typical SDK recording: 10 s, 640x480 (a portrait source centred on a blurred copy of
  # itself, as the browser tests' camera), 30 fps VP8 at 1 Mbit/s; the SDK's 12 JPEG frames.
  ffmpeg -v error -y -t 10 -i "$session_source" -an -filter_complex \
    "[0:v]split[a][b];[a]scale=640:480:force_original_aspect_ratio=increase,crop=640:480,boxblur=20:2[bg];[b]scale=-2:480[fg];[bg][fg]overlay=(W-w)/2:0,fps=30,format=yuv420p" \
    -c:v libvpx -b:v 1M -deadline realtime -cpu-used 8 "$work/session.webm" || die "ffmpeg could not cut the session recording"
  mkdir -p "$work/session-frames"
  ffmpeg -v error -y -i "$work/session.webm" -vf fps=1.2 -frames:v 12 -q:v 3 "$work/session-frames/f%02d.jpg" \
    || die "ffmpeg could not cut the session frames"
  sb() { node "$repo/benches/session-bench.mjs" --base "$base" --token "$token" --recording "$work/session.webm" \
      --frames "$work/session-frames" --challenges "$session_challenges" "$@"; }
  echo "== session: 10 sessions one at a time ($(date +%T))" >&2
  sb --sessions 10 --concurrency 1 --json "$work/session-single.json" >&2 || true
  cpu0=$(cpu_snapshot)
  echo "== session: $pool_size clients for ${session_duration} s ($(date +%T))" >&2
  sb --duration "$session_duration" --concurrency "$pool_size" --json "$work/session-load.json" >&2 || true
  cpu1=$(cpu_snapshot)
  S_CPU=$(echo "$cpu0 $cpu1" | awk -v n="$(nproc)" '{ total = $6 - $3; if (total <= 0) total = 1; printf "%.0f", 100 * ($5 - $2) / total }')
  jq_num() { node -e "const j = require(process.argv[1]); console.log($2)" "$1"; }
  s1=$work/session-single.json; s2=$work/session-load.json
  S1_MED=$(jq_num "$s1" 'j.latency_ms.median'); S1_P99=$(jq_num "$s1" 'j.latency_ms.p99')
  S2_MED=$(jq_num "$s2" 'j.latency_ms.median'); S2_P99=$(jq_num "$s2" 'j.latency_ms.p99')
  S2_RATE=$(jq_num "$s2" 'j.sessions_per_min'); S2_N=$(jq_num "$s2" 'j.sessions')
  S_FRAMES=$(jq_num "$s1" 'j.frames_analysed'); S_DECIDED=$(jq_num "$s1" 'j.decided_at_ms')
  S_LABELS=$(jq_num "$s2" 'JSON.stringify(j.labels)')
  check "session: every verdict REAL" "$(jq_num "$s1" 'j.failures.length + 0' | awk -v b="$(jq_num "$s2" 'j.failures.length')" '{ print ($1 + b == 0) ? 1 : 0 }')" "load: $S_LABELS"
  # Where the time goes: the same run in the CLI, five times.
  "$cli" replay "$work/session.webm" --challenges "$session_challenges" --repeat 5 >"$work/replay.json" 2>"$work/replay.timings" \
    || die "liveproof replay failed"
  tmed() { grep -o "\"$1\":[0-9.]*" "$work/replay.timings" | cut -d: -f2 | median | awk '{ printf "%.0f", $1 }'; }
  R_TOTAL=$(tmed total_ms); R_DECODE=$(tmed decode_ms); R_DET=$(tmed detect_ms); R_MESH=$(tmed landmarks_ms)
  R_PAD=$(tmed pad_ms); R_EMB=$(tmed embed_ms); R_ATTR=$(tmed attributes_ms); R_OTHER=$(tmed other_ms)
  echo "   one session: median $S1_MED ms (p99 $S1_P99); under load ($pool_size clients): median $S2_MED ms, p99 $S2_P99 ms, $S2_RATE sessions/min; replay: total $R_TOTAL ms = decode $R_DECODE + detect $R_DET + mesh $R_MESH + anti-spoofing $R_PAD + embeddings $R_EMB + emotion $R_ATTR + other $R_OTHER" >&2
  session_md=$(
    echo "| sessions one at a time | median ms | p99 ms | under load: clients | sessions | median ms | p99 ms | sessions/min | machine CPU |"
    echo "|---|---|---|---|---|---|---|---|---|"
    echo "| 10 | $S1_MED | $S1_P99 | $pool_size | $S2_N | $S2_MED | $S2_P99 | $S2_RATE | $S_CPU % |"
    echo
    echo "Where one session's time goes (\`liveproof replay --repeat 5\`, medians, ms; $S_FRAMES frames analysed of a 10 s recording, decided at $S_DECIDED ms): total $R_TOTAL = decoding $R_DECODE + detector $R_DET + face mesh $R_MESH + anti-spoofing $R_PAD + embeddings $R_EMB + emotion $R_ATTR + crops, quality, session $R_OTHER. Goal <= 1000 ms per session: $([ "$S1_MED" -le 1000 ] && echo met || echo missed)."
  )
  results_json+=("\"session\": {\"single\": $(cat "$s1"), \"load\": $(cat "$s2"), \"machine_cpu_pct\": $S_CPU, \"replay_ms\": {\"total\": $R_TOTAL, \"decode\": $R_DECODE, \"detect\": $R_DET, \"landmarks\": $R_MESH, \"pad\": $R_PAD, \"embed\": $R_EMB, \"attributes\": $R_ATTR, \"other\": $R_OTHER}}")
fi
health_summary() { # file -> sets H_N H_BAD H_MAX_MS
  H_N=$(wc -l <"$1"); H_BAD=$(awk '$1 != 200' "$1" | wc -l)
  H_MAX_MS=$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { printf "%.0f", m * 1000 }' "$1")
}
if want saturation; then
  : >"$work/saturation.health"
  hp_pid=""; start_bg probe_health "$work/saturation.health"; hp_pid=$!
  run_wrk saturation "$conc_sat" "$duration" "$spec_image"
  stop_bg "$hp_pid"
  health_summary "$work/saturation.health"
  check "saturation: /healthz during the run" "$([ "$H_BAD" = 0 ] && echo 1 || echo 0)" "$H_N probes, $H_BAD not 200, slowest $H_MAX_MS ms"
  saturation_checks saturation
  after_checks saturation
  row saturation image "$conc_sat" "\"healthz_during\": {\"probes\": $H_N, \"not_200\": $H_BAD, \"max_ms\": $H_MAX_MS}"
fi
abuse_md=""
if want abuse; then
  # The bomb: 16-bit RGBA, 8192 x 8192, about 1 MB of PNG (512 MiB decoded at 16 bits).
  ffmpeg -v error -y -f lavfi -i "color=c=gray:s=8192x8192" -frames:v 1 -pix_fmt rgba64be "$work/bomb.png" \
    || die "ffmpeg could not make the PNG bomb"
  # The public flood's frames: the still as a 1280 x 720 PNG.
  ffmpeg -v error -y -i "$image" -vf "scale=1280:720:force_original_aspect_ratio=increase,crop=1280:720" \
    -frames:v 1 "$work/big-frame.png" || die "ffmpeg could not make the flood's frame"
  run_wrk abuse-alone "$pool_size" "$duration" "$spec_image"
  normal_checks abuse-alone
  row abuse-alone image "$pool_size"
  A0_P99=$W_P99; A0_RPS=$W_OK_RPS
  : >"$work/abuse.rss"
  : >"$work/abuse.health"
  rss_before=$(rss_kib)
  rs_pid=""; start_bg sample_rss "$work/abuse.rss"; rs_pid=$!
  hp_pid=""; start_bg probe_health "$work/abuse.health"; hp_pid=$!
  node "$repo/benches/abuse-bench.mjs" --base "$base" --token "$token" --bomb "$work/bomb.png" \
    --big-frame "$work/big-frame.png" --duration "$duration" --json "$work/abuse-attackers.json" \
    >"$work/abuse-attackers.out" 2>&1 &
  ab_pid=$!; bg_pids+=("$ab_pid")
  sleep 2 # the attackers in place
  run_wrk abuse "$pool_size" "$duration" "$spec_image"
  ab_rc=0; wait "$ab_pid" || ab_rc=$?
  stop_bg "$ab_pid"; stop_bg "$rs_pid"; stop_bg "$hp_pid"
  [ -s "$work/abuse-attackers.json" ] || { cat "$work/abuse-attackers.out" >&2; die "abuse-bench.mjs wrote no summary"; }
  health_summary "$work/abuse.health"
  rss_peak=$(awk -v b="$rss_before" '$2 > m { m = $2 } END { print (m > b ? m : b) }' "$work/abuse.rss")
  A_OK_PCT=$(awk -v a="$W_OK" -v b="$W_REQUESTS" 'BEGIN { printf "%.1f", b ? 100 * a / b : 0 }')
  A_RATIO=$(awk -v a="$W_P99" -v b="$A0_P99" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  check "abuse: legitimate clients succeed" "$(awk -v p="$A_OK_PCT" 'BEGIN { print (p >= 99) ? 1 : 0 }')" \
    "$W_OK of $W_REQUESTS 2xx ($A_OK_PCT %), statuses [$W_STATUSES]"
  check "abuse: legitimate clients: no socket errors" "$([ "$W_SOCKET_ERR" = 0 ] && echo 1 || echo 0)" \
    "connect $W_ERR_CONNECT, read $W_ERR_READ, write $W_ERR_WRITE, timeout $W_ERR_TIMEOUT"
  check "abuse: legitimate p99 within 3x of alone" "$(awk -v r="$A_RATIO" 'BEGIN { print (r > 0 && r <= 3) ? 1 : 0 }')" \
    "p99 $W_P99 ms beside the attackers, $A0_P99 ms alone (${A_RATIO}x); 2xx/s $W_OK_RPS vs $A0_RPS"
  check "abuse: memory" "$([ $((rss_peak - rss_before)) -le $((256 * 1024)) ] && echo 1 || echo 0)" \
    "RSS $(mib "$rss_before") MiB before, peak $(mib "$rss_peak") MiB during (+$(mib $((rss_peak - rss_before))) MiB)"
  check "abuse: /healthz during the attack" "$([ "$H_BAD" = 0 ] && echo 1 || echo 0)" "$H_N probes, $H_BAD not 200, slowest $H_MAX_MS ms"
  check "abuse: attackers got only refusals" "$([ "$ab_rc" = 0 ] && echo 1 || echo 0)" \
    "$(node -e 'const j = require(process.argv[1]); console.log(Object.entries(j.results).map(([k, v]) => `${k}: ${v.requests} (${JSON.stringify(v.statuses).replace(/"/g, "")}), median ${v.median_ms} ms${v.unexpected.length ? ", unexpected " + v.unexpected.join(" ") : ""}`).join("; "))' "$work/abuse-attackers.json")"
  after_checks abuse
  row abuse image "$pool_size" "\"alone\": {\"p99_ms\": $A0_P99, \"ok_rps\": $A0_RPS}, \"p99_ratio\": $A_RATIO, \"ok_pct\": $A_OK_PCT, \"rss_mib\": {\"before\": $(mib "$rss_before"), \"peak\": $(mib "$rss_peak")}, \"healthz_during\": {\"probes\": $H_N, \"not_200\": $H_BAD, \"max_ms\": $H_MAX_MS}, \"attackers\": $(cat "$work/abuse-attackers.json")"
  abuse_md=$(
    echo "| legitimate clients | alone: 2xx/s, p99 ms | beside the attackers: 2xx/s, p99 ms | p99 ratio | 2xx share | server RSS before / peak MiB | /healthz |"
    echo "|---|---|---|---|---|---|---|"
    echo "| $pool_size | $A0_RPS, $A0_P99 | $W_OK_RPS, $W_P99 | ${A_RATIO}x | $A_OK_PCT % | $(mib "$rss_before") / $(mib "$rss_peak") | $H_N probes, $H_BAD failed |"
    echo
    echo "| attacker | requests | answers | median ms | max ms |"
    echo "|---|---|---|---|---|"
    node -e 'const j = require(process.argv[1]); for (const [k, v] of Object.entries(j.results)) console.log(`| ${k} (${j.attackers[k === "png_bombs" ? "bombs" : k]}) | ${v.requests} | ${Object.entries(v.statuses).map(([s, n]) => `${s}: ${n}`).join(", ")} | ${v.median_ms} | ${v.max_ms} |`)' "$work/abuse-attackers.json"
  )
fi
soak_md=""
if want soak && [ "$soak" -gt 0 ]; then
  case "$soak_media" in
    image) soak_specs=("$spec_image") ;;
    video) soak_specs=("$spec_video") ;;
    mixed) soak_specs=("$spec_image" "$spec_video") ;;
  esac
  : >"$work/soak.rss"
  : >"$work/soak.health"
  rs_pid=""; start_bg sample_rss "$work/soak.rss"; rs_pid=$!
  hp_pid=""; start_bg probe_health "$work/soak.health"; hp_pid=$!
  run_wrk soak "$conc_sat" "$soak" "${soak_specs[@]}"
  stop_bg "$rs_pid"; stop_bg "$hp_pid"
  health_summary "$work/soak.health"
  check "soak: /healthz during the run" "$([ "$H_BAD" = 0 ] && echo 1 || echo 0)" "$H_N probes, $H_BAD not 200, slowest $H_MAX_MS ms"
  saturation_checks soak
  r_start=$(awk 'NR == 1 { print $2 }' "$work/soak.rss")
  r_end=$(awk 'END { print $2 }' "$work/soak.rss")
  r_max=$(awk '$2 > m { m = $2 } END { print m + 0 }' "$work/soak.rss")
  r_med=$(awk '{ print $2 }' "$work/soak.rss" | median)
  r_n=$(wc -l <"$work/soak.rss")
  r_mid=$(awk -v n="$r_n" 'NR == int((n + 1) / 2) { print $2 }' "$work/soak.rss")
  r_growth=$((r_end - r_start))
  r_half=$((r_end - r_mid))
  r_half_pct=$(awk -v g="$r_half" -v s="$r_start" 'BEGIN { printf "%.1f", s ? 100 * g / s : 0 }')
  r_slope=$(awk -v h="$(awk -v n="$r_n" 'NR == int((n + 1) / 2) { print $1 }' "$work/soak.rss")" '$1 >= h {
      n++; x += $1; y += $2; xx += $1 * $1; xy += $1 * $2 }
    END { d = n * xx - x * x; printf "%.2f", (n > 1 && d) ? (n * xy - x * y) / d * 60 / 1024 : 0 }' "$work/soak.rss")
  r_pct=$(awk -v g="$r_growth" -v s="$r_start" 'BEGIN { printf "%.1f", s ? 100 * g / s : 0 }')
  r_after=$W_RSS
  check "soak: memory flat" "$(awk -v p="$r_half_pct" -v t="$rss_tolerance" 'BEGIN { print (p <= t) ? 1 : 0 }')" \
    "second half +$(mib "$r_half") MiB ($r_half_pct % of start, tolerance $rss_tolerance %); RSS $(mib "$r_start") -> $(mib "$r_end") MiB ($r_pct %), max $(mib "$r_max"), second-half slope $r_slope MiB/min, $r_n samples$([ "$soak" -lt 120 ] && echo "; a soak under 2 min is not conclusive")"
  after_checks soak
  samples=$(awk '{ printf "%s[%d, %.1f]", (NR > 1 ? ", " : ""), $1, $2 / 1024 }' "$work/soak.rss")
  row soak "$soak_media" "$conc_sat" "\"healthz_during\": {\"probes\": $H_N, \"not_200\": $H_BAD, \"max_ms\": $H_MAX_MS}, \"rss_mib\": {\"start\": $(mib "$r_start"), \"median\": $(mib "$r_med"), \"max\": $(mib "$r_max"), \"end\": $(mib "$r_end"), \"growth\": $(mib "$r_growth"), \"growth_pct\": $r_pct, \"second_half_growth\": $(mib "$r_half"), \"slope_mib_per_min\": $r_slope, \"after_drain\": $(mib "$r_after"), \"samples_every_5s\": [$samples]}"
  soak_md="| $(mib "$r_start") | $(mib "$r_med") | $(mib "$r_max") | $(mib "$r_end") | $(mib "$r_growth") ($r_pct %) | $(mib "$r_half") | $r_slope | $(mib "$r_after") |"
fi

# --- server log --------------------------------------------------------------------------
n_error=$(grep -c '"level":"ERROR"' "$work/server.log" || true)
n_warn=$(grep -c '"level":"WARN"' "$work/server.log" || true)
n_panic=$(grep -ci 'panicked' "$work/server.log" || true)
check "server log: no panic" "$([ "$n_panic" = 0 ] && echo 1 || echo 0)" "$n_panic panics, $n_error ERROR, $n_warn WARN lines"
peak=$(hwm_kib)

# --- report ------------------------------------------------------------------------------
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
wrk_version=$( (wrk -v 2>&1 || true) | awk 'NR == 1 { print $2 }')
md=$(
  echo "Server load on loopback ($(nproc) cores, $cpu; liveproof $commit; wrk $wrk_version, 1 thread): pool size $pool_size, queue $queue; still \`$(basename "$image")\`, video \`$(basename "$video")\`."
  echo "Unloaded latency (one request at a time, median of 3): still ${single_ms[image]:-n/a} ms, still + video ${single_ms[video]:-n/a} ms."
  echo
  echo "| scenario | media | connections | duration | req/s | 2xx/s | p50 ms | p90 ms | p99 ms | max ms | statuses | socket errors | server CPU | machine CPU |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  if [ -n "$session_md" ]; then
    echo
    echo "SDK sessions verified from their recordings (\`$(basename "$session_source")\`, first 10 s, script $session_challenges):"
    echo
    echo "$session_md"
  fi
  if [ -n "$abuse_md" ]; then
    echo
    echo "Abuse (${duration} s): legitimate clients beside the attackers of benches/abuse-bench.mjs:"
    echo
    echo "$abuse_md"
  fi
  if [ -n "$soak_md" ]; then
    echo
    echo "Soak RSS (MiB; ${soak} s, sampled every 5 s):"
    echo
    echo "| start | median | max | end | growth | second-half growth | second-half slope MiB/min | after drain |"
    echo "|---|---|---|---|---|---|---|---|"
    echo "$soak_md"
  fi
  echo
  echo "Server RSS: $(mib "$rss_ready") MiB when ready, peak (VmHWM) $(mib "$peak") MiB."
  echo
  printf '%s\n' "${check_lines[@]}"
)
echo
echo "$md"
[ -z "$md_out" ] || { mkdir -p "$(dirname "$md_out")"; echo "$md" >"$md_out"; }

json_escape() { sed 's/\\/\\\\/g; s/"/\\"/g'; }
mkdir -p "$(dirname "$json_out")"
{
  echo "{"
  echo "  \"date\": \"$(date -u +%FT%TZ)\", \"commit\": \"$commit\", \"cores\": $(nproc), \"cpu\": \"$(echo "$cpu" | json_escape)\","
  echo "  \"wrk\": \"$wrk_version\", \"pool\": {\"size\": $pool_size, \"queue\": $queue, \"capacity\": $capacity},"
  echo "  \"image\": \"$(basename "$image")\", \"video\": \"$(basename "$video")\", \"duration_s\": $duration, \"video_duration_s\": $video_duration, \"soak_s\": $soak, \"soak_media\": \"$soak_media\","
  echo "  \"single_request_ms\": {\"image\": ${single_ms[image]:-null}, \"video\": ${single_ms[video]:-null}},"
  echo "  \"rss_ready_mib\": $(mib "$rss_ready"), \"rss_peak_mib\": $(mib "$peak"),"
  echo "  \"server_log\": {\"error\": $n_error, \"warn\": $n_warn, \"panic\": $n_panic},"
  echo "  \"scenarios\": {"
  for i in "${!results_json[@]}"; do
    printf '    %s%s\n' "${results_json[$i]}" "$([ "$i" -lt $((${#results_json[@]} - 1)) ] && echo ,)"
  done
  echo "  },"
  echo "  \"checks\": ["
  for i in "${!checks_json[@]}"; do
    printf '    %s%s\n' "${checks_json[$i]}" "$([ "$i" -lt $((${#checks_json[@]} - 1)) ] && echo ,)"
  done
  echo "  ],"
  echo "  \"pass\": $([ "$fail" = 0 ] && echo true || echo false)"
  echo "}"
} >"$json_out"
echo >&2
echo "bench-server: JSON summary in $json_out" >&2
[ "$fail" = 0 ] || { echo "bench-server: some checks FAILED" >&2; exit 2; }
