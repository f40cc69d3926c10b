#!/bin/bash
# Measures pidcar and process-exporter side by side as sidecars of one target
# namespace, in one run: scrape time, CPU per scrape, RSS, idle CPU, and the
# /proc floor (stat+status+cmdline of every process, procscan.c here).
#
#   tests/bench/compare.sh TARGET_HOST_PID [SCRAPES]
#
# The target is any PID namespace's init, e.g. ../shared/bench/target.sh start 10000.
# Prints a Markdown table; absolute numbers move with the machine's load, ratios less.
set -euo pipefail
T=${1:?usage: compare.sh TARGET_HOST_PID [SCRAPES]}
N=${2:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PIDCAR=${PIDCAR:-$ROOT/build/pidcar}
WORK=$(mktemp -d)
HZ=$(getconf CLK_TCK)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

cc -O2 -o "$WORK/procscan" "$HERE/procscan.c"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
# the process nsenter started (its only child)
child_of() { local c; for _ in $(seq 50); do c=$(cat "/proc/$1/task/$1/children" 2>/dev/null); [[ -n $c ]] && { echo "${c%% *}"; return; }; sleep 0.1; done; }

floor=$(for _ in $(seq "$N"); do nsenter -t "$T" -p -m "$WORK/procscan" 2>&1 |
	sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p'; done | median)
nprocs=$(nsenter -t "$T" -p -m sh -c 'ls -d /proc/[0-9]* | wc -l')

# measure NAME URL PID: median wall ms of N GETs, CPU ms per GET
measure() {
	local url=$2 pid=$3 t0 t1 times
	curl -s -o /dev/null --max-time 300 "$url"	# warm: first discovery
	t0=$(ticks "$pid")
	times=$(for _ in $(seq "$N"); do
		curl -s -o /dev/null --max-time 300 -w '%{time_total}\n' "$url"; done |
		awk '{print $1 * 1000}' | median)
	t1=$(ticks "$pid")
	echo "$times $(( (t1 - t0) * 1000 / HZ / N ))"
}

cat >"$WORK/pe.yml" <<'EOF'
process_names:
  - name: "{{.Comm}}"
    cmdline: ['.+']
EOF
nsenter -t "$T" -p -m prometheus-process-exporter -config.path "$WORK/pe.yml" \
	-web.listen-address 127.0.0.1:19257 >"$WORK/pe.log" 2>&1 &
PIDS+=($!)
pe=$(child_of $!)
PIDS+=("$pe")
until curl -s -o /dev/null --max-time 300 http://127.0.0.1:19257/metrics; do sleep 0.5; done
read -r pe_ms pe_cpu <<<"$(measure pe http://127.0.0.1:19257/metrics "$pe")"
pe_rss=$(rss "$pe")
kill "$pe"

nsenter -t "$T" -p -m "$PIDCAR" --listen 127.0.0.1:19258 --refresh_age 0 \
	--log_level warning >"$WORK/pidcar.log" 2>&1 &
PIDS+=($!)
pc=$(child_of $!)
PIDS+=("$pc")
until curl -sf -o /dev/null http://127.0.0.1:19258/readyz; do sleep 0.1; done
read -r pc_ms pc_cpu <<<"$(measure pidcar http://127.0.0.1:19258/metrics "$pc")"
read -r pl_ms pl_cpu <<<"$(measure pidcar http://127.0.0.1:19258/api/v1/processes "$pc")"
pc_rss=$(rss "$pc")
i0=$(ticks "$pc"); sleep 30; i1=$(ticks "$pc")
idle_pct=$(awk -v t=$((i1 - i0)) -v hz="$HZ" 'BEGIN {printf "%.2f", t / hz / 30 * 100}')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
echo "Target: $nprocs processes; $(uname -r); $(nproc) cores; $(date -u +%FT%TZ); $N GETs each"
echo
echo "| measure | pidcar | process-exporter | /proc floor | pidcar ÷ exporter | pidcar ÷ floor |"
echo "|---|---|---|---|---|---|"
echo "| GET /metrics median ms | $pc_ms | $pe_ms | $floor | $(ratio "$pc_ms" "$pe_ms") | $(ratio "$pc_ms" "$floor") |"
echo "| CPU ms per /metrics | $pc_cpu | $pe_cpu | | $(ratio "$pc_cpu" "$pe_cpu") | |"
echo "| GET /api/v1/processes median ms | $pl_ms | (none) | $floor | | $(ratio "$pl_ms" "$floor") |"
echo "| CPU ms per /api/v1/processes | $pl_cpu | | | | |"
echo "| RSS KiB | $pc_rss | $pe_rss | | $(ratio "$pc_rss" "$pe_rss") | |"
echo "| idle CPU, % of a core (30 s) | $idle_pct | | | | |"
