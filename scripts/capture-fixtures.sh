#!/usr/bin/env bash
# Captures real Linux TCP traffic between two throwaway network namespaces into classic pcap
# fixtures (test/fixtures/pcap/*.pcap), plus tcpdump's own decoding of each (*.txt) that the
# parser tests compare against.
# Invariants: namespaces are uniquely named (sg<hex>-a/-b) and removed by the EXIT trap even on
# failure; every background process is ended by its PID; traffic uses only 198.18.0.0/15
# addresses inside those namespaces; IPv6 is disabled there so the captures are reproducible;
# checksum/segmentation offloads are off on the veth pair so captured checksums are final.
# Usage: sudo scripts/capture-fixtures.sh [OUT_DIR]   (needs ip, tcpdump, ethtool, python3)
set -euo pipefail

OUT=${1:-"$(cd "$(dirname "$0")/.." && pwd)/test/fixtures/pcap"}
if [ "$(id -u)" -ne 0 ]; then echo "capture-fixtures: must run as root (network namespaces, tcpdump)" >&2; exit 1; fi
for t in ip tcpdump ethtool python3; do command -v "$t" >/dev/null || { echo "capture-fixtures: missing $t" >&2; exit 1; }; done
mkdir -p "$OUT"

ID="sg$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
NSA="$ID-a"
NSB="$ID-b"
IPA=198.18.0.1
IPB=198.18.0.2
TMP=$(mktemp -d)
PIDS=()

cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  ip netns del "$NSA" 2>/dev/null || true
  ip netns del "$NSB" 2>/dev/null || true
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT INT TERM

ip netns add "$NSA"
ip netns add "$NSB"
echo "capture-fixtures: namespaces $NSA $NSB"
ip link add veth0 netns "$NSA" type veth peer name veth0 netns "$NSB"
for ns in "$NSA" "$NSB"; do
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
  ip netns exec "$ns" ethtool -K veth0 tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
done
ip -n "$NSA" addr add "$IPA/24" dev veth0
ip -n "$NSB" addr add "$IPB/24" dev veth0
ip -n "$NSA" link set veth0 up
ip -n "$NSB" link set veth0 up

cat >"$TMP/server.py" <<'PY'
# Echo server: for each connection, read one message, answer "echo:" + message, wait for EOF, close.
# A second listener on port+2 speaks first (banner) and closes first (server-side FIN).
import socket, sys, threading
host, port, conns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def echo():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((host, port)); s.listen(8)
    for _ in range(conns):
        c, _ = s.accept()
        d = c.recv(4096)
        c.sendall(b"echo:" + d)
        while c.recv(4096):
            pass
        c.close()
def banner():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((host, port + 2)); s.listen(8)
    c, _ = s.accept()
    c.sendall(b"220 syngate fixture banner\r\n")
    c.close()
t = threading.Thread(target=banner, daemon=True); t.start()
echo()
t.join(timeout=10)
PY

cat >"$TMP/client.py" <<'PY'
import socket, sys, time
host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if mode == "echo":
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(b"hello syngate")
    print(s.recv(4096).decode())
    time.sleep(0.05)
    s.close()
elif mode == "refused":
    try:
        socket.create_connection((host, port), timeout=5)
        sys.exit("expected connection refused")
    except ConnectionRefusedError:
        print("refused")
elif mode == "banner":
    s = socket.create_connection((host, port), timeout=5)
    d = b""
    while True:
        x = s.recv(4096)
        if not x:
            break
        d += x
    print(d.decode().strip())
    s.close()
elif mode == "udp":
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b"syngate udp fixture", (host, port))
    u.close()
PY

wait_listen() { # ns port
  for _ in $(seq 1 100); do
    ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q . && return 0
    sleep 0.05
  done
  echo "capture-fixtures: nothing listens on $2 in $1" >&2; return 1
}

# capture NAME CMD...: runs CMD while tcpdump records veth0 in namespace A into NAME.pcap.
capture() {
  local name=$1; shift
  local pcap="$OUT/$name.pcap"
  ip netns exec "$NSA" tcpdump --immediate-mode -Z root -i veth0 -U -n -s 0 -w "$pcap" 2>"$TMP/$name.tcpdump.log" &
  local tpid=$!
  PIDS+=("$tpid")
  for _ in $(seq 1 100); do grep -q "listening on" "$TMP/$name.tcpdump.log" && break; sleep 0.05; done
  "$@"
  sleep 0.3
  kill -INT "$tpid"
  wait "$tpid" 2>/dev/null || true
  tcpdump -nn -S -v -tt -r "$pcap" >"$OUT/$name.txt" 2>/dev/null
  echo "capture-fixtures: $pcap ($(grep -c '^[0-9]' "$OUT/$name.txt") packets)"
}

ip netns exec "$NSB" python3 "$TMP/server.py" "$IPB" 8080 2 &
PIDS+=($!)
wait_listen "$NSB" 8080
wait_listen "$NSB" 8082

# First capture: ARP resolution, a UDP datagram to a closed port and the ICMP port-unreachable reply.
capture mixed ip netns exec "$NSA" python3 "$TMP/client.py" "$IPB" 9999 udp
capture handshake ip netns exec "$NSA" python3 "$TMP/client.py" "$IPB" 8080 echo
capture refused ip netns exec "$NSA" python3 "$TMP/client.py" "$IPB" 8081 refused
capture server-close ip netns exec "$NSA" python3 "$TMP/client.py" "$IPB" 8082 banner
capture echo2 ip netns exec "$NSA" python3 "$TMP/client.py" "$IPB" 8080 echo
echo "capture-fixtures: done ($OUT)"
