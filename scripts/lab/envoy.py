#!/usr/bin/env python3
# Lab stand-in for Envoy's inbound listener (Istio's 15006). Invariant: for every accepted connection
# it reads SO_ORIGINAL_DST (the destination before the pod's REDIRECT rule), logs it as one JSON line,
# connects to 127.0.0.1:<original port> and relays bytes both ways unchanged.
# Usage: python3 envoy.py PORT LOGFILE
import json, socket, struct, sys, threading, time

SO_ORIGINAL_DST = 80  # linux/netfilter_ipv4.h

def log(path, rec):
    with open(path, 'a') as f:
        f.write(json.dumps(rec) + '\n')

def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    finally:
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass

def handle(conn, peer, logfile):
    try:
        raw = conn.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
        port, = struct.unpack_from('!H', raw, 2)
        ip = socket.inet_ntoa(raw[4:8])
        log(logfile, {'ts': time.time(), 'peer': '%s:%d' % peer, 'origDst': '%s:%d' % (ip, port)})
        up = socket.create_connection(('127.0.0.1', port), timeout=5)
        up.settimeout(None)
        t = threading.Thread(target=pipe, args=(up, conn), daemon=True)
        t.start()
        pipe(conn, up)
        t.join(10)
        up.close()
    except OSError as e:
        log(logfile, {'ts': time.time(), 'peer': '%s:%d' % peer, 'error': str(e)})
    finally:
        conn.close()

def main():
    port, logfile = int(sys.argv[1]), sys.argv[2]
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('0.0.0.0', port))
    s.listen(128)
    print('ready', flush=True)
    while True:
        c, peer = s.accept()
        threading.Thread(target=handle, args=(c, peer, logfile), daemon=True).start()

if __name__ == '__main__':
    main()
