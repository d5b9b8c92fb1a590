#!/usr/bin/env bash
# Reliable UDP side by side with other UDP file movers and our own TCP, as a user runs them:
# a fresh client process per download (the README's headless command), the same file, one run,
# medians of RUNS. Peers that are not installed are skipped with a note, never an error.
#
#   bench/udp-peers.sh                 # 67,737,600-byte file, 3 runs each (about a minute)
#   RUNS=5 SIZE=16000000 bench/udp-peers.sh
#
# Needs: dotnet build -c Release Messenger.Server Messenger.TerminalClient (and Messenger.Bench for LiteNetLib).
# The Native AOT client (README: dotnet publish Messenger.TerminalClient -c Release -p:NativeAot=true) runs
# beside the ReadyToRun one as udp-aot and tcp-aot when its executable is there (CLIENT_AOT names another).
# Peers: Debian atftp + atftpd (RFC 7440 windowsize 64, blksize 1428); LiteNetLib 2.1.5 ReliableOrdered
# (Messenger.Bench litenetlib-serve / litenetlib-get, skipped when Messenger.Bench is not built).
# UDT4 has no runner here: it is reported as skipped.
# Everything listens on 127.0.0.1 only; every process is bounded by `timeout` and stopped at exit.
set -uo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
SIZE=${SIZE:-67737600}
LIMIT=${LIMIT:-60}      # seconds any one download may take
SERVER=Messenger.Server/bin/Release/net10.0/Messenger.Server.dll
CLIENT=Messenger.TerminalClient/bin/Release/net10.0/Messenger.TerminalClient.dll
BENCH=Messenger.Bench/bin/Release/net10.0/Messenger.Bench.dll
CLIENT_AOT=${CLIENT_AOT:-Messenger.TerminalClient/bin/Release/aot/publish/Messenger.TerminalClient}
for f in "$SERVER" "$CLIENT"; do
  [ -f "$f" ] || { echo "missing $f: dotnet build -c Release Messenger.Server Messenger.TerminalClient" >&2; exit 1; }
done

work=$(mktemp -d /tmp/udp-peers.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/files" "$work/out"
chmod 755 "$work" "$work/files"
head -c "$SIZE" /dev/urandom > "$work/files/big.bin"
chmod 644 "$work/files/big.bin"

# Every port is 0 (the kernel picks a free one) and read back, so runs by others on this machine never collide.
timeout 600 dotnet "$SERVER" --chat-port 0 --file-port 0 --udp-port 0 --files "$work/files" \
  > "$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "Messenger listening" "$work/server.log" && break; sleep 0.1; done
grep -q "Messenger listening" "$work/server.log" || { echo "server did not start" >&2; cat "$work/server.log" >&2; exit 1; }
CHAT=$(sed -n 's/.*Messenger listening: chat tcp [^ ]*:\([0-9]*\),.*/\1/p' "$work/server.log")

have_atftp=0
if command -v atftp >/dev/null && command -v atftpd >/dev/null; then
  # atftpd cannot bind port 0: take one the kernel just handed out and released.
  TFTP=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  timeout 600 atftpd --daemon --no-fork --bind-address 127.0.0.1 --port $TFTP --logfile /dev/null \
    --maxthread 4 "$work/files" > "$work/atftpd.log" 2>&1 &
  pids+=($!)
  sleep 0.3
  have_atftp=1
fi

have_lnl=0
if [ -f "$BENCH" ]; then
  timeout 600 dotnet "$BENCH" litenetlib-serve --file "$work/files/big.bin" --timeout 590 > "$work/lnl.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q "^listening" "$work/lnl.log" && break; sleep 0.1; done
  LNL=$(sed -n 's/^listening \([0-9]*\)/\1/p' "$work/lnl.log")
  [ -n "$LNL" ] && have_lnl=1
fi
sha=$(sha256sum "$work/files/big.bin" | cut -d' ' -f1)

now() { date +%s.%N; }
# Each prints "wall_seconds own_mbps" (own = what the client itself reports; none for atftp).
ours() {  # $1 = tcp|udp, then the client's command
  local via=$1; shift
  rm -f "$work/out/big.bin"
  local t0 line t1
  t0=$(now)
  line=$(timeout "$LIMIT" "$@" download big.bin --server 127.0.0.1 --port $CHAT --via "$via" --out "$work/out" 2>&1 | grep "sha256=" | tail -1)
  t1=$(now)
  case "$line" in *sha256=ok*) ;; *) echo "FAILED"; echo "$via ($1): $line" >&2; return;; esac
  echo "$(echo "$t1 - $t0" | bc -l) $(sed -n 's/.*MB\/s=\([0-9.]*\).*/\1/p' <<<"$line")"
}
atftp_run() {
  rm -f "$work/out/big.tftp"
  local t0 t1
  t0=$(now)
  timeout "$LIMIT" atftp --option "windowsize 64" --option "blksize 1428" -g -r big.bin -l "$work/out/big.tftp" 127.0.0.1 $TFTP \
    > "$work/atftp.log" 2>&1
  t1=$(now)
  cmp -s "$work/out/big.tftp" "$work/files/big.bin" || { echo "FAILED"; cat "$work/atftp.log" >&2; return; }
  echo "$(echo "$t1 - $t0" | bc -l) -"
}

lnl_run() {
  local t0 line t1
  t0=$(now)
  line=$(timeout "$LIMIT" dotnet "$BENCH" litenetlib-get --port "$LNL" --size "$SIZE" --timeout "$LIMIT" 2>&1 | grep "sha256=" | tail -1)
  t1=$(now)
  case "$line" in *sha256=$sha*) ;; *) echo "FAILED"; echo "litenetlib: $line" >&2; return;; esac
  echo "$(echo "$t1 - $t0" | bc -l) $(sed -n 's/.*MB\/s=\([0-9.]*\).*/\1/p' <<<"$line")"
}

declare -A wall own
have_aot=0; [ -x "$CLIENT_AOT" ] && have_aot=1
peers="udp tcp"; [ $have_aot = 1 ] && peers="udp-aot udp tcp-aot tcp"
[ $have_atftp = 1 ] && peers="atftp $peers"; [ $have_lnl = 1 ] && peers="$peers litenetlib"
for run in $(seq "$RUNS"); do   # interleaved, so drift in the machine's load hits every peer alike
  for p in $peers; do
    case "$p" in
      atftp) r=$(atftp_run);; litenetlib) r=$(lnl_run);;
      *-aot) r=$(ours "${p%-aot}" "$CLIENT_AOT");; *) r=$(ours "$p" dotnet "$CLIENT");;
    esac
    [ "$r" = FAILED ] && { echo "run $run $p: FAILED"; continue; }
    read -r w m <<<"$r"
    wall[$p]+="$(echo "$SIZE / $w / 1000000" | bc -l) "
    [ "$m" != - ] && own[$p]+="$m "
    printf 'run %d %-7s wall %6.2f s = %7.1f MB/s%s\n' "$run" "$p" "$w" "$(echo "$SIZE / $w / 1000000" | bc -l)" \
      "$([ "$m" != - ] && echo ", own mbps=$m")"
  done
done

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{a[NR]=$1} END { if (NR == 0) print 0; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
spread() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk 'NR==1{lo=$1} {hi=$1} END { printf "%.0f-%.0f", lo, hi }'; }
echo
echo "| mover | MB/s wall (incl. start-up), median of $RUNS | range | own MB/s, median |"
echo "|---|---|---|---|"
for p in $peers; do
  printf '| %s | %.1f | %s | %s |\n' "$p" "$(median "${wall[$p]:-}")" "$(spread "${wall[$p]:-}")" \
    "$([ -n "${own[$p]:-}" ] && printf '%.1f' "$(median "${own[$p]}")" || echo -)"
done
[ $have_atftp = 1 ] || echo "| atftp | skipped: Debian atftp/atftpd not installed | | |"
echo "| UDT4 | skipped: no runner in this script | | |"
[ $have_lnl = 1 ] || echo "| LiteNetLib | skipped: build Messenger.Bench (-c Release) | | |"
[ $have_aot = 1 ] || echo "| udp-aot, tcp-aot | skipped: no Native AOT client at $CLIENT_AOT | | |"
udp=$(median "${wall[udp]:-}"); tcp=$(median "${wall[tcp]:-}")
echo
printf 'ratios (wall): udp/tcp = %.2f' "$(echo "$udp / $tcp" | bc -l)"
[ $have_atftp = 1 ] && printf ', udp/atftp = %.2f' "$(echo "$udp / $(median "${wall[atftp]:-}")" | bc -l)"
[ $have_lnl = 1 ] && printf ', udp/litenetlib = %.2f' "$(echo "$udp / $(median "${wall[litenetlib]:-}")" | bc -l)"
if [ $have_aot = 1 ]; then
  aot=$(median "${wall[udp-aot]:-}")
  printf '\nratios (wall, Native AOT client): udp-aot/udp = %.2f, tcp-aot/tcp = %.2f' "$(echo "$aot / $udp" | bc -l)" \
    "$(echo "$(median "${wall[tcp-aot]:-}") / $tcp" | bc -l)"
  [ $have_atftp = 1 ] && printf ', udp-aot/atftp = %.2f' "$(echo "$aot / $(median "${wall[atftp]:-}")" | bc -l)"
  printf ', udp-aot/tcp-aot = %.2f' "$(echo "$aot / $(median "${wall[tcp-aot]:-}")" | bc -l)"
fi
echo
printf 'ratios (own): udp/tcp = %.2f' "$(echo "$(median "${own[udp]:-}") / $(median "${own[tcp]:-}")" | bc -l)"
[ $have_lnl = 1 ] && printf ', udp/litenetlib = %.2f' "$(echo "$(median "${own[udp]:-}") / $(median "${own[litenetlib]:-}")" | bc -l)"
echo
