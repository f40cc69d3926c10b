#!/usr/bin/env bash
# bench.sh: `make bench` — pidcar (agent and sidecar mode) against Debian's
# prometheus-process-exporter, forkstat, a bare proc-connector listener, the
# /proc floor and ps, on the same machine in the same run.  README.md here
# says what each number means.
#
#   tests/bench/bench.sh            (as root; make bench builds pidcar first)
#
# Environment (defaults in brackets):
#   PIDCAR_BIN         pidcar binary [build/pidcar]
#   BENCH_SIZES        target namespace sizes ["100 1000 10000"]
#   BENCH_IDLE         idle window in seconds [30]
#   BENCH_SCRAPE_S     seconds of back-to-back GETs per endpoint and tool [10]
#                      (at least BENCH_SCRAPES_MIN [5], at most BENCH_SCRAPES_MAX [200])
#   BENCH_STORM_N      namespace size the storms run in [largest of BENCH_SIZES]
#   BENCH_STORM_S      storm length in seconds [5]; BENCH_STORM_K workers [2]
#   BENCH_STORM_MODES  ["fork exec"]; BENCH_STALL=0 skips the stall case
#   BENCH_ACCT_N       namespace size of the accounting run [smallest size]
#   BENCH_BURNERS      short-lived burners [2000] of BENCH_BURN_MS ms each [5]
#   BENCH_OUT          where latest.{md,csv,png} go [tests/bench/results]
#   BENCH_BUILD        where the C helpers are built [build/bench]
#   BENCH_KEEP=1       keep the work directory (logs, bodies)
# Progress goes to stderr; the table is printed at the end.
set -euo pipefail
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PIDCAR_BIN=${PIDCAR_BIN:-$ROOT/build/pidcar}
SIZES=${BENCH_SIZES:-"100 1000 10000"}
IDLE=${BENCH_IDLE:-30}
SCRAPE_S=${BENCH_SCRAPE_S:-10}
SCRAPES_MIN=${BENCH_SCRAPES_MIN:-5}
SCRAPES_MAX=${BENCH_SCRAPES_MAX:-200}
STORM_S=${BENCH_STORM_S:-5}
STORM_K=${BENCH_STORM_K:-2}
STORM_MODES=${BENCH_STORM_MODES-"fork exec"}
STALL=${BENCH_STALL:-1}
BURNERS=${BENCH_BURNERS:-2000}
BURN_MS=${BENCH_BURN_MS:-5}
OUT=${BENCH_OUT:-$HERE/results}
BUILD=${BENCH_BUILD:-$ROOT/build/bench}
TARGET_ARGS=${BENCH_TARGET_ARGS:-"-d 4 -w 50 -t 2 -g 8"}
RCVBUF=8388608			# what pidcar asks for; the bare listener gets the same
read -r -a SZ <<<"$SIZES"
SMALLEST=$(printf '%s\n' "${SZ[@]}" | sort -n | head -1)
LARGEST=$(printf '%s\n' "${SZ[@]}" | sort -n | tail -1)
STORM_N=${BENCH_STORM_N:-$LARGEST}
ACCT_N=${BENCH_ACCT_N:-$SMALLEST}
HZ=$(getconf CLK_TCK)
WORK=$(mktemp -d /tmp/pidcar-bench.XXXXXX)
CSV=$WORK/raw.csv

log() { echo "[bench $(date -u +%T)] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (namespaces, the proc connector)"
[[ -x $PIDCAR_BIN ]] || die "no pidcar at $PIDCAR_BIN (make, or set PIDCAR_BIN)"
for t in unshare nsenter curl ps forkstat prometheus-process-exporter gnuplot cc; do
	command -v "$t" >/dev/null || die "$t missing: run tests/bench/deps.sh"
done
[[ -x /usr/bin/python3 ]] || die "/usr/bin/python3 missing"

# ------------------------------------------------------------ bookkeeping
echo "n,subject,metric,value,unit" >"$CSV"
rec() { # n subject metric value [unit]
	printf '%s,%s,%s,%s,%s\n' "$1" "$2" "$3" "${4//,/;}" "${5:-}" >>"$CSV"
}

# Every process started here is ended by PID (checked against its start
# time: PIDs recycle fast during storms), never by name.
declare -a STARTED=()
starttime() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $20}'; }
alive() {
	local s
	s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $1}') || return 1
	[[ -n $s && $s != Z && $s != X ]]
}
track() { STARTED+=("$1:$(starttime "$1")"); }
ours() { # pid: still the process we started?
	local e
	for e in "${STARTED[@]}"; do
		[[ ${e%%:*} == "$1" && -n ${e#*:} && $(starttime "$1") == "${e#*:}" ]] && return 0
	done
	return 1
}
end_pid() { # pid: SIGTERM, then SIGKILL after 5 s; only if it is ours
	local i
	ours "$1" || return 0
	kill -CONT "$1" 2>/dev/null || true
	kill -TERM "$1" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do alive "$1" || return 0; sleep 0.1; done
	ours "$1" && kill -KILL "$1" 2>/dev/null || true
}
TARGET_PID1="" TARGET_UNSHARE=""
cleanup() {
	local e i left
	set +e
	stop_target
	for e in "${STARTED[@]}"; do
		ours "${e%%:*}" && { kill -CONT "${e%%:*}"; kill -TERM "${e%%:*}"; } 2>/dev/null
	done
	for ((i = 0; i < 50; i++)); do
		left=0
		for e in "${STARTED[@]}"; do ours "${e%%:*}" && alive "${e%%:*}" && left=1; done
		((left)) || break
		sleep 0.1
	done
	for e in "${STARTED[@]}"; do ours "${e%%:*}" && alive "${e%%:*}" && kill -KILL "${e%%:*}" 2>/dev/null; done
	if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "work files kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

child_of() { # pid: its first child (what nsenter/unshare forked)
	local c i
	for ((i = 0; i < 200; i++)); do
		c=$(awk '{print $1}' "/proc/$1/task/$1/children" 2>/dev/null || true)
		[[ -n $c ]] && { echo "$c"; return 0; }
		alive "$1" || return 1
		sleep 0.02
	done
	return 1
}
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# ns its threads spent runnable but waiting for a CPU (a busy machine)
runq_ns() { cat "/proc/$1"/task/*/schedstat 2>/dev/null | awk '{s += $2} END {printf "%d\n", s}'; }
status_kb() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }
now_ns() { date +%s%N; }
# a TCP port nobody listens on (others' tests share this machine)
free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
fdiv() { awk -v a="$1" -v b="$2" -v f="${3:-%.3f}" 'BEGIN {if (b == 0) print "nan"; else printf f "\n", a / b}'; }

# ------------------------------------------------------------ build
build_helpers() {
	local f
	mkdir -p "$BUILD"
	for f in nsinit procscan storm cnlisten burn; do
		if [[ ! -x $BUILD/$f || $HERE/$f.c -nt $BUILD/$f ]]; then
			cc -O2 -Wall -Wextra -pthread -o "$BUILD/$f" "$HERE/$f.c"
		fi
	done
	ln -f "$BUILD/burn" "$BUILD/burn5ms"	# its comm: the burners' group
}

# ------------------------------------------------------------ target
start_target() { # n
	local n=$1 i
	# shellcheck disable=SC2086
	unshare --pid --fork --mount-proc "$BUILD/nsinit" "$n" $TARGET_ARGS \
		>"$WORK/target.log" 2>&1 </dev/null &
	TARGET_UNSHARE=$!
	track "$TARGET_UNSHARE"
	TARGET_PID1=$(child_of "$TARGET_UNSHARE") || die "target did not start: $(cat "$WORK/target.log")"
	track "$TARGET_PID1"
	for ((i = 0; i < 1200; i++)); do
		grep -q '^ready' "$WORK/target.log" && break
		alive "$TARGET_PID1" || die "target died: $(cat "$WORK/target.log")"
		sleep 0.1
	done
	grep -q '^ready' "$WORK/target.log" || die "target not ready after 120 s"
	rec "$n" target create_s "$(awk '/^ready/ {print $3}' "$WORK/target.log")" s
}
stop_target() {
	[[ -n $TARGET_PID1 ]] || return 0
	end_pid "$TARGET_PID1"	# its SIGTERM ends every member
	[[ -n $TARGET_UNSHARE ]] && { wait "$TARGET_UNSHARE" 2>/dev/null || true; }
	TARGET_PID1="" TARGET_UNSHARE=""
}
# not a function when backgrounded: $! must be nsenter itself, whose only
# child is the command (nsenter forks into the PID namespace)
in_target() { nsenter -t "$TARGET_PID1" -p -m -- "$@"; }
ns_count() { in_target sh -c 'ls -d /proc/[0-9]* | wc -l'; }

check_limits() {
	local pm need
	pm=$(cat /proc/sys/kernel/pid_max)
	need=$((LARGEST * 2 + 20000))
	if ((pm < need)); then
		echo "$need" >/proc/sys/kernel/pid_max || die "kernel.pid_max $pm < $need"
		log "raised kernel.pid_max from $pm to $need"
	fi
	if [[ $(ulimit -n) != unlimited ]] && (($(ulimit -n) < LARGEST + 1024)); then
		ulimit -n "$((LARGEST + 4096))" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
	fi
}

# ------------------------------------------------------------ floors
floors() { # n
	local n=$1 out i t
	out=$(in_target "$BUILD/procscan" -r 5)
	for k in median_ms min_ms max_ms cpu_ms pids; do
		rec "$n" floor "$k" "$(sed "s/.*$k=\([^ ]*\).*/\1/" <<<"$out")"
	done
	: >"$WORK/ps.t"
	for ((i = 0; i < 5; i++)); do
		t=$( { TIMEFORMAT='%3R %3U %3S'; time in_target ps -e -o pid,ppid,user,stat,pcpu,rss,etimes,args >"$WORK/ps.out"; } 2>&1)
		echo "$t" >>"$WORK/ps.t"
	done
	rec "$n" ps median_ms "$(awk '{print $1 * 1000}' "$WORK/ps.t" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" ms
	rec "$n" ps min_ms "$(awk '{print $1 * 1000}' "$WORK/ps.t" | sort -g | head -1)" ms
	rec "$n" ps max_ms "$(awk '{print $1 * 1000}' "$WORK/ps.t" | sort -g | tail -1)" ms
	rec "$n" ps cpu_ms "$(awk '{print ($2 + $3) * 1000}' "$WORK/ps.t" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" ms
	rec "$n" ps lines "$(($(wc -l <"$WORK/ps.out") - 1))"
	log "N=$n floor $(sed 's/.*median_ms=\([^ ]*\).*/\1/' <<<"$out") ms, ps $(grep "^$n,ps,median_ms" "$CSV" | cut -d, -f4) ms"
}

# ------------------------------------------------------------ HTTP subjects
# start_tool name: sets TOOL_PID (the server's host PID) and records start-up
# time to ready (/readyz 200 for pidcar, the first /metrics 200 for the exporter)
declare -A TOOL_PID=() TOOL_URL=()
start_tool() { # n name
	local n=$1 name=$2 t0 launcher pid url ready i
	url=http://127.0.0.1:$(free_port)
	t0=$(now_ns)
	case $name in
	pidcar-agent | pidcar-storm)
		ready=$url/readyz
		"$PIDCAR_BIN" --target "pid:$TARGET_PID1" --listen "${url#http://}" \
			--refresh_age 0 --log_level warning >"$WORK/$name.log" 2>&1 </dev/null &
		pid=$!
		;;
	pidcar-sidecar)
		ready=$url/readyz
		nsenter -t "$TARGET_PID1" -p -m -- "$PIDCAR_BIN" --listen "${url#http://}" --refresh_age 0 \
			--log_level warning >"$WORK/$name.log" 2>&1 </dev/null &
		launcher=$!
		track "$launcher"
		pid=$(child_of "$launcher") || die "$name did not start: $(cat "$WORK/$name.log")"
		;;
	process-exporter)
		ready=$url/metrics
		nsenter -t "$TARGET_PID1" -p -m -- prometheus-process-exporter -config.path "$WORK/pe.yml" \
			-web.listen-address "${url#http://}" >"$WORK/$name.log" 2>&1 </dev/null &
		launcher=$!
		track "$launcher"
		pid=$(child_of "$launcher") || die "$name did not start: $(cat "$WORK/$name.log")"
		;;
	esac
	track "$pid"
	for ((i = 0; i < 30000; i++)); do
		[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 60 "$ready") == 200 ]] && break
		alive "$pid" || die "$name died: $(cat "$WORK/$name.log")"
		sleep 0.01
	done
	alive "$pid" || die "$name died: $(cat "$WORK/$name.log")"
	[[ $name == pidcar-storm ]] || rec "$n" "$name" startup_s "$(awk -v a="$t0" -v b="$(now_ns)" 'BEGIN {printf "%.3f", (b - a) / 1e9}')" s
	TOOL_PID[$name]=$pid TOOL_URL[$name]=$url
}
stop_tool() { end_pid "${TOOL_PID[$1]}"; unset "TOOL_PID[$1]"; }

# get_series n name path key: a cold GET, then back-to-back GETs on one
# connection (as a Prometheus server keeps it) for about BENCH_SCRAPE_S
# seconds; wall time of each from curl, CPU of the server from its stat.
get_series() {
	local n=$1 name=$2 path=$3 key=$4 pid=${TOOL_PID[$2]} url=${TOOL_URL[$2]}
	local cold count c0 c1 q0 q1 i args=()
	cold=$(curl -s -o "$WORK/$name.$key.body" -w '%{time_total}' --max-time 300 "$url$path")
	count=$(awk -v s="$SCRAPE_S" -v c="$cold" -v lo="$SCRAPES_MIN" -v hi="$SCRAPES_MAX" \
		'BEGIN {k = c > 0 ? int(s / c) : hi; if (k < lo) k = lo; if (k > hi) k = hi; print k}')
	for ((i = 0; i < count; i++)); do args+=(-o /dev/null "$url$path"); done
	c0=$(ticks "$pid") q0=$(runq_ns "$pid")
	curl -s --max-time 3000 -w '%{http_code} %{time_total}\n' "${args[@]}" >"$WORK/$name.$key.t"
	c1=$(ticks "$pid") q1=$(runq_ns "$pid")
	grep -qv '^200 ' "$WORK/$name.$key.t" && log "$name $path: non-200 answers: $(grep -cv '^200 ' "$WORK/$name.$key.t")"
	rec "$n" "$name" "${key}_cold_ms" "$(awk -v c="$cold" 'BEGIN {printf "%.2f", c * 1000}')" ms
	rec "$n" "$name" "${key}_gets" "$count"
	awk '{print $2 * 1000}' "$WORK/$name.$key.t" | sort -g | awk -v n="$n" -v s="$name" -v k="$key" '
		{a[NR] = $1}
		END {
			q(0, "min"); q(0.1, "p10"); q(0.5, "median"); q(0.9, "p90"); q(1, "max")
		}
		function q(p, label,   i) {
			i = int(p * (NR - 1) + 0.5) + 1
			printf "%s,%s,%s_%s_ms,%.2f,ms\n", n, s, k, label, a[i]
		}' >>"$CSV"
	rec "$n" "$name" "${key}_cpu_ms" "$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v k="$count" 'BEGIN {printf "%.2f", (b - a) * 1000 / hz / k}')" ms
	rec "$n" "$name" "${key}_bytes" "$(wc -c <"$WORK/$name.$key.body")" B
	rec "$n" "$name" "${key}_runq_ms" "$(awk -v a="$q0" -v b="$q1" -v k="$count" 'BEGIN {printf "%.2f", (b - a) / 1e6 / k}')" ms
	log "N=$n $name GET $path: cold $(awk -v c="$cold" 'BEGIN {printf "%.1f", c * 1000}') ms, median $(grep "^$n,$name,${key}_median_ms" "$CSV" | cut -d, -f4) ms over $count, CPU $(grep "^$n,$name,${key}_cpu_ms" "$CSV" | cut -d, -f4) ms each"
}

http_round() { # n
	local n=$1 name c0 cnt
	declare -A I0=()
	start_tool "$n" process-exporter
	get_series "$n" process-exporter /metrics metrics
	rec "$n" process-exporter procs_counted "$(awk '/^namedprocess_namegroup_num_procs/ {s += $2} END {print s + 0}' "$WORK/process-exporter.metrics.body")"
	for name in pidcar-sidecar pidcar-agent; do
		start_tool "$n" "$name"
		get_series "$n" "$name" /metrics metrics
		get_series "$n" "$name" /api/v1/processes processes
		cnt=$(sed -n 's/.*"count":\([0-9]*\).*/\1/p' "$WORK/$name.processes.body" | tail -1)
		rec "$n" "$name" procs_counted "${cnt:-?}"
	done
	for name in process-exporter pidcar-sidecar pidcar-agent; do
		rec "$n" "$name" rss_kb "$(status_kb "${TOOL_PID[$name]}" VmRSS)" KiB
		rec "$n" "$name" hwm_kb "$(status_kb "${TOOL_PID[$name]}" VmHWM)" KiB
	done
	# One idle window for all three: nothing runs, nobody asks.
	sleep 2
	for name in process-exporter pidcar-sidecar pidcar-agent; do I0[$name]=$(ticks "${TOOL_PID[$name]}"); done
	log "N=$n idle window ${IDLE}s"
	sleep "$IDLE"
	for name in process-exporter pidcar-sidecar pidcar-agent; do
		rec "$n" "$name" idle_cpu_pct "$(awk -v a="${I0[$name]}" -v b="$(ticks "${TOOL_PID[$name]}")" -v hz="$HZ" -v s="$IDLE" 'BEGIN {printf "%.3f", (b - a) * 100 / hz / s}')" "%"
		rec "$n" "$name" rss_idle_kb "$(status_kb "${TOOL_PID[$name]}" VmRSS)" KiB
	done
	log "N=$n idle CPU %: $(grep "^$n,.*,idle_cpu_pct" "$CSV" | cut -d, -f2,4 | tr '\n' ' ')"
	for name in process-exporter pidcar-sidecar pidcar-agent; do stop_tool "$name"; done
}

# ------------------------------------------------------------ storms
metric_sum() { # url prefix: sum of the values of the sample lines starting with prefix
	curl -s --max-time 120 "$1/metrics" | awk -v p="$2" 'index($0, p) == 1 {s += $NF} END {printf "%.6f\n", s}'
}

# storm_run n mode listener case(plain|stall)
storm_run() {
	local n=$1 mode=$2 lst=$3 case=$4 key launcher spid lpid="" c0 c1 out created rate
	local seen="" nobufs="" lost_metric="" f0 l0 loop="" i expect events_per
	key="${case}_${mode}"
	nsenter -t "$TARGET_PID1" -p -m -- "$BUILD/storm" -a -m "$mode" -k "$STORM_K" -d "$STORM_S" \
		>"$WORK/storm.out" 2>"$WORK/storm.err" </dev/null &
	launcher=$!
	track "$launcher"
	spid=$(child_of "$launcher") || die "storm did not start"
	track "$spid"
	for ((i = 0; i < 200; i++)); do grep -q armed "$WORK/storm.err" && break; sleep 0.02; done
	case $lst in
	none) ;;
	forkstat)
		forkstat -q -S -e fork,exec,exit >"$WORK/forkstat.out" 2>&1 </dev/null &
		lpid=$!
		track "$lpid"
		# it reads every /proc/PID first, then opens its socket
		for ((i = 0; i < 600; i++)); do
			[[ -n $(find "/proc/$lpid/fd" -lname 'socket:*' 2>/dev/null) ]] && break
			sleep 0.05
		done
		sleep 0.5
		;;
	cnlisten)
		"$BUILD/cnlisten" -r "$spid" -b "$RCVBUF" >"$WORK/cn.out" 2>"$WORK/cn.err" </dev/null &
		lpid=$!
		track "$lpid"
		for ((i = 0; i < 300; i++)); do grep -q listening "$WORK/cn.err" && break; sleep 0.02; done
		grep -q listening "$WORK/cn.err" || die "cnlisten: $(cat "$WORK/cn.err")"
		;;
	pidcar)
		start_tool "$n" pidcar-storm
		lpid=${TOOL_PID[pidcar-storm]}
		f0=$(metric_sum "${TOOL_URL[pidcar-storm]}" 'pidcar_forks_total ')
		l0=$(metric_sum "${TOOL_URL[pidcar-storm]}" 'pidcar_events_lost_total ')
		;;
	esac
	if [[ $case == stall ]]; then
		# a 10 000-process scrape in a loop: pidcar's own (its event loop
		# serves it), or for the other listeners the /proc floor scanning
		# the namespace (the same load on the machine)
		if [[ $lst == pidcar ]]; then
			(while :; do curl -s -o /dev/null --max-time 60 "${TOOL_URL[pidcar-storm]}/api/v1/processes"; echo x; done) >"$WORK/loop.n" 2>/dev/null &
		else
			(while :; do in_target "$BUILD/procscan" -r 1 >/dev/null; echo x; done) >"$WORK/loop.n" 2>/dev/null &
		fi
		loop=$!
		track "$loop"
		sleep 1
	fi
	[[ -n $lpid ]] && c0=$(ticks "$lpid")
	kill -USR1 "$spid"
	wait "$launcher" || true
	[[ -n $loop ]] && { kill "$loop" 2>/dev/null || true; wait "$loop" 2>/dev/null || true; }
	out=$(cat "$WORK/storm.out")
	created=$(sed -n 's/.*created=\([0-9]*\).*/\1/p' <<<"$out")
	rate=$(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<<"$out")
	[[ -n $created ]] || die "storm: $out $(cat "$WORK/storm.err")"
	rec "$n" "$lst" "${key}_created" "$created"
	rec "$n" "$lst" "${key}_rate" "$rate" 1/s
	[[ -n $loop ]] && rec "$n" "$lst" "${key}_loop_scrapes" "$(wc -l <"$WORK/loop.n")"
	[[ $lst == none ]] && { log "N=$n $case $mode storm alone: $created ($rate/s)"; return 0; }
	sleep 1	# the listener drains its socket
	if [[ $lst == pidcar ]]; then
		# pidcar may still be catching up: wait until its count stops
		# moving, asking /api/v1/status (a /metrics at N = 10 000 would
		# read every process, and its CPU would be booked to the storm)
		local prev=-1 cur
		for ((i = 0; i < 30; i++)); do
			cur=$(curl -s --max-time 60 "${TOOL_URL[pidcar-storm]}/api/v1/status" |
				sed -n 's/.*"forks": *\([0-9]*\).*/\1/p')
			[[ $cur == "$prev" ]] && break
			prev=$cur
			sleep 1
		done
	fi
	c1=$(ticks "$lpid")
	case $lst in
	forkstat)
		kill -INT "$lpid" 2>/dev/null || true	# it prints its statistics
		for ((i = 0; i < 50; i++)); do alive "$lpid" || break; sleep 0.1; done
		end_pid "$lpid"
		wait "$lpid" 2>/dev/null || true
		# stats: Fork Exec Exit Coredump Comm Clone Ptrace Uid Sid Total Process;
		# forkstat books some forks as Clone (a racy /proc read): count both
		seen=$(awk '$1 ~ /^[0-9]+$/ && NF >= 11 && /stormworker/ {s += $1 + $6} END {print s + 0}' "$WORK/forkstat.out")
		nobufs=$(grep -ci 'nobufs\|no buffer' "$WORK/forkstat.out" || true)
		;;
	cnlisten)
		end_pid "$lpid"
		wait "$lpid" 2>/dev/null || true
		out=$(cat "$WORK/cn.out")
		seen=$(sed -n 's/.*forks_d2=\([0-9]*\).*/\1/p' <<<"$out")
		nobufs=$(sed -n 's/.*nobufs=\([0-9]*\).*/\1/p' <<<"$out")
		;;
	pidcar)
		# pidcar counts every process created in its target after it
		# started: the storm's workers and what they created (the storm
		# itself was waiting before pidcar started)
		seen=$(awk -v a="$f0" -v b="$(metric_sum "${TOOL_URL[pidcar-storm]}" 'pidcar_forks_total ')" -v k="$STORM_K" 'BEGIN {printf "%d", b - a - k}')
		nobufs=$(awk -v a="$l0" -v b="$(metric_sum "${TOOL_URL[pidcar-storm]}" 'pidcar_events_lost_total ')" 'BEGIN {printf "%d", b - a}')
		lost_metric=1
		stop_tool pidcar-storm
		;;
	esac
	events_per=2; [[ $mode == exec ]] && events_per=3	# fork, (exec,) exit
	rec "$n" "$lst" "${key}_seen" "$seen"
	rec "$n" "$lst" "${key}_lost" "$((created - seen))"
	rec "$n" "$lst" "${key}_lost_pct" "$(awk -v s="$seen" -v c="$created" 'BEGIN {printf "%.3f", c ? (c - s) * 100 / c : 0}')" %
	rec "$n" "$lst" "${key}_nobufs" "$nobufs" "$([[ -n $lost_metric ]] && echo events_lost_total || echo ENOBUFS)"
	rec "$n" "$lst" "${key}_cpu_s" "$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" 'BEGIN {printf "%.2f", (b - a) / hz}')" s
	rec "$n" "$lst" "${key}_cpu_us_per_event" "$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v c="$created" -v e="$events_per" 'BEGIN {printf "%.2f", c ? (b - a) * 1e6 / hz / (c * e) : 0}')" us
	log "N=$n $case $mode storm with $lst: created $created ($rate/s), seen $seen, lost/ENOBUFS $nobufs, CPU $(awk -v a="$c0" -v b="$c1" -v hz="$HZ" 'BEGIN {printf "%.2f", (b - a) / hz}') s"
}

storms() { # n
	local n=$1 mode lst
	for mode in $STORM_MODES; do
		for lst in none forkstat cnlisten pidcar; do storm_run "$n" "$mode" "$lst" plain; done
	done
	[[ $STALL == 1 ]] || return 0
	for mode in $STORM_MODES; do
		for lst in none forkstat cnlisten pidcar; do storm_run "$n" "$mode" "$lst" stall; done
	done
}

# ------------------------------------------------------------ accounting
# One burn, three observers: pidcar in both modes and the exporter watch the
# same burners; each is scraped once a second meanwhile.
acct() { # n
	local n=$1 name launcher bpid loop out truth self i
	declare -A B0=() P0=()
	for name in process-exporter pidcar-sidecar pidcar-agent; do start_tool "$n" "$name"; done
	gsum() { # name group
		if [[ $1 == process-exporter ]]; then
			metric_sum "${TOOL_URL[$1]}" "namedprocess_namegroup_cpu_seconds_total{groupname=\"$2\""
		else
			metric_sum "${TOOL_URL[$1]}" "pidcar_group_cpu_seconds_total{group=\"$2\""
		fi
	}
	for name in process-exporter pidcar-sidecar pidcar-agent; do
		B0[$name]=$(gsum "$name" burn5ms) P0[$name]=$(gsum "$name" burnparent)
	done
	nsenter -t "$TARGET_PID1" -p -m -- "$BUILD/burn" -a -x "$BUILD/burn5ms" -n "$BURNERS" -m "$BURN_MS" -l 3 \
		>"$WORK/burn.out" 2>"$WORK/burn.err" </dev/null &
	launcher=$!
	track "$launcher"
	bpid=$(child_of "$launcher") || die "burn did not start"
	track "$bpid"
	for ((i = 0; i < 200; i++)); do grep -q armed "$WORK/burn.err" && break; sleep 0.02; done
	(while :; do
		for name in process-exporter pidcar-sidecar pidcar-agent; do
			curl -s -o /dev/null --max-time 30 "${TOOL_URL[$name]}/metrics"
		done
		sleep 1
	done) &
	loop=$!
	track "$loop"
	kill -USR1 "$bpid"
	wait "$launcher" || true
	sleep 2
	kill "$loop" 2>/dev/null || true
	wait "$loop" 2>/dev/null || true
	out=$(cat "$WORK/burn.out")
	truth=$(sed -n 's/.*children_cpu_s=\([0-9.]*\).*/\1/p' <<<"$out")
	[[ -n $truth ]] || die "burn: $out $(cat "$WORK/burn.err")"
	rec "$n" truth acct_burners "$BURNERS"
	rec "$n" truth acct_cpu_s "$truth" s
	self=$(sed -n 's/.*self_cpu_s=\([0-9.]*\).*/\1/p' <<<"$out")
	rec "$n" truth acct_parent_self_cpu_s "$self" s
	rec "$n" truth acct_seconds "$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$out")" s
	for name in process-exporter pidcar-sidecar pidcar-agent; do
		local b p
		b=$(awk -v a="${B0[$name]}" -v b="$(gsum "$name" burn5ms)" 'BEGIN {printf "%.3f", b - a}')
		p=$(awk -v a="${P0[$name]}" -v b="$(gsum "$name" burnparent)" 'BEGIN {printf "%.3f", b - a}')
		rec "$n" "$name" acct_burners_cpu_s "$b" s
		rec "$n" "$name" acct_parent_cpu_s "$p" s
		rec "$n" "$name" acct_error_pct "$(awk -v b="$b" -v t="$truth" 'BEGIN {printf "%.2f", (b - t) * 100 / t}')" %
		# the parent's group as well, less the parent's own CPU: what a
		# counter credited the burners with, wherever it put it
		rec "$n" "$name" acct_both_error_pct "$(awk -v b="$b" -v p="$p" -v s="$self" -v t="$truth" 'BEGIN {printf "%.2f", (b + p - s - t) * 100 / t}')" %
		log "N=$n accounting: truth $truth s; $name: burn5ms $b s, burnparent $p s"
	done
	for name in process-exporter pidcar-sidecar pidcar-agent; do stop_tool "$name"; done
}

# ------------------------------------------------------------ main
build_helpers
check_limits
cat >"$WORK/pe.yml" <<'EOF'
process_names:
  - name: "{{.Comm}}"
    cmdline: ['.+']
EOF
rec 0 meta date "$(date -u +%FT%TZ)"
rec 0 meta kernel "$(uname -r)"
rec 0 meta cpus "$(nproc)"
rec 0 meta cpu_model "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
rec 0 meta mem_gib "$(awk '/^MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)"
rec 0 meta loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
rec 0 meta pidcar_version "$("$PIDCAR_BIN" -V 2>&1 | head -1)"
rec 0 meta pidcar_commit "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
rec 0 meta process_exporter "$(dpkg-query -W -f='${Version}' prometheus-process-exporter 2>/dev/null)"
rec 0 meta forkstat "$(dpkg-query -W -f='${Version}' forkstat 2>/dev/null)"
rec 0 meta sizes "$SIZES"
rec 0 meta idle_s "$IDLE"
rec 0 meta target_args "$TARGET_ARGS"
rec 0 meta storm "K=$STORM_K ${STORM_S}s"
log "pidcar $PIDCAR_BIN; sizes $SIZES; idle ${IDLE}s; work $WORK"

for n in "${SZ[@]}"; do
	start_target "$n"
	rec "$n" target processes "$(ns_count)"
	log "N=$n target ready: PID 1 = host PID $TARGET_PID1, $(ns_count) processes"
	floors "$n"
	http_round "$n"
	if [[ $n == "$ACCT_N" ]]; then acct "$n"; fi
	if [[ $n == "$STORM_N" && -n $STORM_MODES ]]; then storms "$n"; fi
	stop_target
done
rec 0 meta loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"

mkdir -p "$OUT"
cp "$CSV" "$OUT/latest.csv"
/usr/bin/python3 "$HERE/report.py" "$OUT/latest.csv" "$OUT"
cat "$OUT/latest.md"
