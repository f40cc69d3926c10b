#!/usr/bin/env bash
# load.sh: the load check of issue 6 (a measurement, not a CI test).
#
# Starts a throw-away PID namespace holding N processes (/work/shared/bench/
# target.sh), runs pidcar inside it, and drives C concurrent connections with
# wrk for D seconds: half on /metrics, half on /api/v1/processes.  Reports
# whether pidcar survived, every non-2xx answer and socket error, and pidcar's
# open fds and RSS before (after one warm-up request per endpoint), at the
# peak, and after the load (must be back within 10% of before).
#
#   tests/bench/load.sh [-n PROCS] [-c CONNECTIONS] [-d SECONDS]
#
# Defaults: -n 1000 -c 200 -d 60.  Needs root (namespaces), wrk and curl
# (Debian: apt-get install wrk curl).  Environment: PIDCAR_BIN (build/pidcar),
# TARGET_SH, BENCH_BUILD (/tmp/bench/.build), TARGET_STATE, PORT.
# max_connections and max_connections_per_ip are set to 512, above C, so any
# refusal is a failure.  Exit status 0 only when every check passed.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PIDCAR_BIN=${PIDCAR_BIN:-$REPO/build/pidcar}
TARGET_SH=${TARGET_SH:-/work/shared/bench/target.sh}
export BENCH_BUILD=${BENCH_BUILD:-/tmp/bench/.build}
export TARGET_STATE=${TARGET_STATE:-/tmp/pidcar-load-target.pid}
PORT=${PORT:-19899}
PROCS=1000 CONNS=200 SECS=60
LIMIT=512

while getopts n:c:d: o; do
	case $o in
	n) PROCS=$OPTARG ;;
	c) CONNS=$OPTARG ;;
	d) SECS=$OPTARG ;;
	*) sed -n '2,20p' "$0"; exit 64 ;;
	esac
done

die() { echo "load.sh: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "needs root (it makes a PID namespace)"
command -v wrk >/dev/null || die "wrk is not installed: apt-get install wrk"
command -v curl >/dev/null || die "curl is not installed: apt-get install curl"
[[ -x $PIDCAR_BIN ]] || die "no pidcar binary at $PIDCAR_BIN (run make)"
[[ -x $TARGET_SH ]] || die "no target script at $TARGET_SH (set TARGET_SH)"
((CONNS >= 2 && CONNS <= LIMIT)) || die "-c must be 2..$LIMIT"

WORK=$(mktemp -d /tmp/pidcar-load.XXXXXX)
BASE=http://127.0.0.1:$PORT
PIDCAR=""
NSENTER=""
SAMPLER=""

cleanup() {
	[[ -n $SAMPLER ]] && kill "$SAMPLER" 2>/dev/null || true
	if [[ -n $PIDCAR ]] && kill -0 "$PIDCAR" 2>/dev/null; then
		kill -TERM "$PIDCAR" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$PIDCAR" 2>/dev/null || break; sleep 0.1; done
	fi
	[[ -n $NSENTER ]] && wait "$NSENTER" 2>/dev/null || true
	"$TARGET_SH" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

fds_of() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
rss_of() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# Percent change from $1 to $2, one decimal.
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f", a ? (b - a) * 100 / a : 0 }'; }
within10() { awk -v a="$1" -v b="$2" 'BEGIN { d = b - a; if (d < 0) d = -d; exit !(d <= a * 0.10) }'; }

echo "load.sh: target namespace with $PROCS processes"
PID1=$("$TARGET_SH" start "$PROCS" | tail -n 1)
[[ $PID1 =~ ^[0-9]+$ ]] || die "target.sh start gave '$PID1'"

cat >"$WORK/pidcar.conf" <<EOF
listen 127.0.0.1:$PORT
max_connections $LIMIT
max_connections_per_ip $LIMIT
log_level info
EOF
# nsenter forks into the PID namespace; its only child is pidcar.
nsenter -t "$PID1" -p -m -- env -u PIDCAR_BIN "$PIDCAR_BIN" -f "$WORK/pidcar.conf" \
	>"$WORK/pidcar.stdout" 2>"$WORK/pidcar.stderr" </dev/null &
NSENTER=$!
for _ in $(seq 100); do
	PIDCAR=$(awk '{print $1}' "/proc/$NSENTER/task/$NSENTER/children" 2>/dev/null ||
		true)
	[[ -n $PIDCAR ]] && break
	sleep 0.05
done
[[ -n $PIDCAR ]] || die "pidcar did not start: $(cat "$WORK/pidcar.stderr")"
ready=0
for _ in $(seq 300); do
	if [[ $(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz") == 200 ]]; then
		ready=1; break
	fi
	kill -0 "$PIDCAR" 2>/dev/null || break
	sleep 0.1
done
((ready)) || die "pidcar not ready: $(cat "$WORK/pidcar.stderr")"
watched=$(curl -s "$BASE/api/v1/status" | sed -n 's/.*"processes":\([0-9]*\).*/\1/p')

fds0=$(fds_of "$PIDCAR") rss0=$(rss_of "$PIDCAR")
for path in /metrics /api/v1/processes /metrics /api/v1/processes; do
	curl -s -o /dev/null "$BASE$path"
done
sleep 1
fds1=$(fds_of "$PIDCAR") rss1=$(rss_of "$PIDCAR")

# The peak, sampled once a second while wrk runs.
(
	peak_fds=0 peak_rss=0
	while kill -0 "$PIDCAR" 2>/dev/null; do
		f=$(fds_of "$PIDCAR") r=$(rss_of "$PIDCAR")
		((f > peak_fds)) && peak_fds=$f
		((r > peak_rss)) && peak_rss=$r
		echo "$peak_fds $peak_rss" >"$WORK/peak"
		sleep 1
	done
) &
SAMPLER=$!

half=$((CONNS / 2))
echo "load.sh: pidcar $PIDCAR watching ${watched:-?} processes; wrk ${SECS}s," \
	"$half connections on /metrics + $((CONNS - half)) on /api/v1/processes"
cpu0=$(awk '{print $14 + $15}' "/proc/$PIDCAR/stat")
wrk -t2 -c"$half" -d"${SECS}s" --timeout 30s --latency "$BASE/metrics" \
	>"$WORK/wrk-metrics.txt" 2>&1 &
w1=$!
wrk -t2 -c"$((CONNS - half))" -d"${SECS}s" --timeout 30s --latency \
	"$BASE/api/v1/processes" >"$WORK/wrk-processes.txt" 2>&1 &
w2=$!
wait "$w1" "$w2" || true
alive=1
kill -0 "$PIDCAR" 2>/dev/null || alive=0
cpu1=$( ((alive)) && awk '{print $14 + $15}' "/proc/$PIDCAR/stat" || echo "$cpu0")

# wrk has closed its connections: give pidcar a moment to close its side and
# to hand memory back (it trims the heap 2 s after the last request).
sleep 6
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
SAMPLER=""
read -r peak_fds peak_rss <"$WORK/peak" || true
health=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz" || true)
fds2=$(fds_of "$PIDCAR") rss2=$(rss_of "$PIDCAR")

fail=0
summary() { # file label
	local f=$1 label=$2 reqs rps non2xx errs p50 p99
	reqs=$(awk '/requests in/ {print $1}' "$f")
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$f")
	non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $5}' "$f")
	errs=$(sed -n 's/.*Socket errors: //p' "$f")
	p50=$(awk '$1 == "50%" {print $2}' "$f")
	p99=$(awk '$1 == "99%" {print $2}' "$f")
	printf '  %-18s %8s requests  %8s/s  p50 %8s  p99 %8s  non-2xx %s  socket errors: %s\n' \
		"$label" "${reqs:-?}" "${rps:-?}" "${p50:-?}" "${p99:-?}" "${non2xx:-0}" \
		"${errs:-none}"
	[[ -n $reqs && ${reqs:-0} -gt 0 ]] || fail=1
	[[ -z $non2xx ]] || fail=1
	[[ -z $errs ]] || fail=1
}

echo
echo "pidcar under load: $CONNS connections for ${SECS}s, $PROCS-process target" \
	"(${watched:-?} watched), $(uname -r), $(nproc) CPUs"
summary "$WORK/wrk-metrics.txt" /metrics
summary "$WORK/wrk-processes.txt" /api/v1/processes
printf '  pidcar CPU during the run: %.1f s of %s s\n' \
	"$(awk -v a="$cpu0" -v b="$cpu1" -v t="$(getconf CLK_TCK)" 'BEGIN {print (b - a) / t}')" \
	"$SECS"
printf '  %-22s %8s %8s %8s %8s  %s\n' "" start before peak after "after vs before"
printf '  %-22s %8s %8s %8s %8s  %s%%\n' "open fds" "$fds0" "$fds1" "${peak_fds:-?}" \
	"$fds2" "$(pct "$fds1" "$fds2")"
printf '  %-22s %8s %8s %8s %8s  %s%%\n' "RSS (KiB)" "$rss0" "$rss1" "${peak_rss:-?}" \
	"$rss2" "$(pct "$rss1" "$rss2")"
if ((alive)) && [[ $health == 200 ]]; then
	echo "  crashes: none (pidcar $PIDCAR alive, /healthz 200)"
else
	echo "  crashes: PIDCAR DIED or stopped answering (/healthz: ${health:-none})"
	fail=1
fi
within10 "$fds1" "$fds2" || { echo "  fds not back within 10%"; fail=1; }
within10 "$rss1" "$rss2" || { echo "  RSS not back within 10%"; fail=1; }
warn=$(grep -cE '^pidcar: (warning|error|fatal)' "$WORK/pidcar.stderr" || true)
echo "  pidcar warnings logged: $warn (log: $WORK/pidcar.stderr)"
((warn == 0)) || { grep -E '^pidcar: (warning|error|fatal)' "$WORK/pidcar.stderr" | head -5; fail=1; }
echo "  wrk output: $WORK/wrk-metrics.txt, $WORK/wrk-processes.txt"
if ((fail)); then
	echo "load.sh: FAILED"
	exit 1
fi
echo "load.sh: passed"
