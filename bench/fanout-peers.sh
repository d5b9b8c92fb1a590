#!/usr/bin/env bash
# Chat fan-out side by side with ngircd (issue 14), driven by the same C generator (cfan, from
# ../shared/bench/cfan.c) in the same run. Per build and round: a fresh server, two floods of
# 4,000,000 deliveries (200 clients, 5 senders × 4,000 messages, as fast as the server takes them)
# and two paced runs of 250,000 deliveries/s (50 clients, 5 senders × 1,000 msg/s for 5 s), each
# followed by the same run against ngircd. CPU is each server's own, from /proc/PID/stat over the
# measured window (cfan -S). Builds alternate within a round, so drift in the machine's load hits
# them alike. ngircd is skipped with a note when it is not installed (Debian package `ngircd`).
#
#   bench/fanout-peers.sh                                     # this tree's Release build, 1 round
#   ROUNDS=2 BUILDS="base=/tmp/cpu-base/net10.0 new=Messenger.Server/bin/Release/net10.0" bench/fanout-peers.sh
#   EXTRA_new='messenger.sqlite-commit-interval = 0ms' BUILDS=...   # HOCON of one build's own, over the bench's
#
# Needs: dotnet build -c Release Messenger.Server; gcc (cfan is built into a temporary folder at each start).
# Everything listens on 127.0.0.1; every cfan run is bounded by -t, and every process is stopped at exit.
set -uo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-1}
BUILDS=${BUILDS:-"this=Messenger.Server/bin/Release/net10.0"}
CFAN_SRC=${CFAN_SRC:-../shared/bench/cfan.c}
FLOOD="-N 200 -K 5 -M 4000 -R 0 -t 120 -s 15"   # 4,000,000 deliveries (ngircd: 3,980,000, no echo)
PACED="-N 50 -K 5 -M 5000 -R 1000 -t 60 -s 15"  # 250,000 deliveries/s for 5 s
# Flood control off; every client from 127.0.0.1 may log in; retention never deletes during the runs
# (a delete beside the journal's writes shows in p99, bench/README.md finding 7).
HOCON='messenger.chat.rate-limit.enabled = off
messenger.chat.logins-per-address { per-second = 100000, burst = 100000 }
messenger.chat.connections.per-address = 100000
messenger.rooms.retention.max-messages = 10000000'

work=$(mktemp -d /tmp/fanout-peers.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

[ -f "$CFAN_SRC" ] || { echo "missing $CFAN_SRC (set CFAN_SRC)" >&2; exit 1; }
gcc -O2 -o "$work/cfan" "$CFAN_SRC" || exit 1
printf '%s\n' "$HOCON" > "$work/bench.hocon"
for b in $BUILDS; do
  [ -f "${b#*=}/Messenger.Server.dll" ] || { echo "missing ${b#*=}/Messenger.Server.dll: dotnet build -c Release Messenger.Server" >&2; exit 1; }
done

have_ngircd=0
if command -v ngircd >/dev/null; then
  IRC=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  conf=../shared/bench/ngircd.conf
  [ -f "$conf" ] || { echo "missing $conf" >&2; exit 1; }
  sed -e "s/^\(\s*Ports = \).*/\1$IRC/" -e "s|^\(\s*PidFile = \).*|\1$work/ngircd.pid|" "$conf" > "$work/ngircd.conf"
  ngircd -n -f "$work/ngircd.conf" > "$work/ngircd.log" 2>&1 &
  NGIRCD=$!; pids+=($NGIRCD)
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$IRC) 2>/dev/null && break; sleep 0.1; done
  kill -0 $NGIRCD 2>/dev/null && have_ngircd=1 || { echo "ngircd did not start:" >&2; cat "$work/ngircd.log" >&2; }
else
  echo "ngircd: skipped (not installed; Debian package ngircd)"
fi

# One cfan run; prints "deliveries/s server_cpu_s us_per_delivery p99_ms lost order_err status p50_ms".
run() {  # $1 = msg|irc, $2 = port, $3 = server pid, $4 = label, rest = cfan options
  local proto=$1 port=$2 pid=$3 label=$4; shift 4
  local extra=(); [ "$proto" = irc ] && extra=(-o bench:bench)
  local line; line=$("$work/cfan" -p "$proto" -P "$port" -S "$pid" -l "$label" "${extra[@]}" "$@" 2>>"$work/cfan.err" | grep '^RESULT')
  [ -n "$line" ] || { echo "0 0 0 0 - - FAILED -"; return; }
  v() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
  echo "$(v deliv_per_s) $(v server_cpu_s) $(echo "$(v server_cpu_s) * 1000000 / $(v delivered)" | bc -l) $(v p99_ms) $(v lost) $(v order_err) $(v status) $(v p50_ms)"
}

declare -A sums counts
add() { sums[$1]=$(echo "${sums[$1]:-0} + $2" | bc -l); counts[$1]=$(( ${counts[$1]:-0} + 1 )); }
printf '%-6s %-5s %-7s | %-10s %7s %7s %7s %8s %5s | %-10s %7s %7s %7s %8s | %s\n' build round run "ours/s" "cpu s" "us/dlv" "p50 ms" "p99 ms" "lost" \
  "ngircd/s" "cpu s" "us/dlv" "p50 ms" "p99 ms" "ratios: deliveries/s, CPU per delivery"
for round in $(seq "$ROUNDS"); do
  for b in $BUILDS; do
    name=${b%%=*}; dir=${b#*=}
    rm -rf "$work/data"; mkdir -p "$work/data" "$work/files"
    extra="EXTRA_$name"; { cat "$work/bench.hocon"; printf '%s\n' "${!extra:-}"; } > "$work/server.hocon"
    dotnet "$dir/Messenger.Server.dll" --chat-port 0 --file-port 0 --udp-port 0 --cluster-port 0 \
      --data "$work/data" --files "$work/files" --config "$work/server.hocon" > "$work/server.log" 2>&1 &
    srv=$!; pids+=($srv)
    for _ in $(seq 300); do grep -q "Messenger listening" "$work/server.log" && break; sleep 0.1; done
    CHAT=$(sed -n 's/.*Messenger listening: chat tcp [^ ]*:\([0-9]*\),.*/\1/p' "$work/server.log")
    [ -n "$CHAT" ] || { echo "$name did not start:" >&2; cat "$work/server.log" >&2; exit 1; }
    first=""
    for kind in flood1 flood2 paced1 paced2; do
      case $kind in flood*) opts=$FLOOD;; *) opts=$PACED;; esac
      read -r od oc ou op ol oo os o5 <<<"$(run msg "$CHAT" "$srv" "$name" $opts)"
      nd=0; nc=0; nu=0; np=-; n5=-; ratios="ngircd skipped"
      if [ $have_ngircd = 1 ]; then
        read -r nd nc nu np _ _ ns n5 <<<"$(run irc "$IRC" "$NGIRCD" ngircd $opts)"
        if [ "$os" = OK ] && [ "$ns" = OK ]; then
          rd=$(echo "$od / $nd" | bc -l); ru=$(echo "$ou / $nu" | bc -l)
          ratios=$(printf '%.2f x, %.2f x' "$rd" "$ru")
          case $kind in flood*) add "$name flood deliveries" "$rd"; add "$name flood cpu" "$ru";; *) add "$name paced cpu" "$ru";; esac
        fi
      fi
      [ "$os" = OK ] && case $kind in flood*) add "$name flood us" "$ou";; *) add "$name paced us" "$ou"; add "$name paced p99" "$op"; add "$name paced p50" "$o5";; esac
      [ $kind = flood1 ] && first=$od
      [ $kind = flood2 ] && [ "$os" = OK ] && add "$name first/warm" "$(echo "$first / $od" | bc -l)"
      printf '%-6s %-5s %-7s | %-10.0f %7.2f %7.3f %7s %8s %5s | %-10.0f %7.2f %7.3f %7s %8s | %s%s\n' "$name" "$round" "$kind" "$od" "$oc" "$ou" "$o5" "$op" "$ol" \
        "$nd" "$nc" "$nu" "$n5" "$np" "$ratios" "$([ "$os" = OK ] && [ "$oo" = 0 ] || echo " ours: status=$os order_err=$oo")"
    done
    kill "$srv"; wait "$srv" 2>/dev/null
  done
done

echo
echo "means over $ROUNDS round(s), load $(cut -d' ' -f1-3 /proc/loadavg):"
echo "| build | flood deliveries/s / ngircd | flood CPU per delivery / ngircd | paced 250 k/s CPU per delivery / ngircd | flood µs | paced µs | paced p50 ms | paced p99 ms | first flood / warm |"
echo "|---|---|---|---|---|---|---|---|---|"
mean() { [ -n "${counts[$1]:-}" ] && printf '%.*f' "$2" "$(echo "${sums[$1]} / ${counts[$1]}" | bc -l)" || echo -; }
for b in $BUILDS; do
  n=${b%%=*}
  echo "| $n | $(mean "$n flood deliveries" 2) | $(mean "$n flood cpu" 2) | $(mean "$n paced cpu" 2) | $(mean "$n flood us" 3) | $(mean "$n paced us" 2) | $(mean "$n paced p50" 1) | $(mean "$n paced p99" 1) | $(mean "$n first/warm" 2) |"
done
[ -s "$work/cfan.err" ] && { echo; echo "cfan said:"; sort "$work/cfan.err" | uniq -c | head -20; }
exit 0
