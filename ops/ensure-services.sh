#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer on the addresses dravo-sync uses. Starts local ones that are
# installed but down; otherwise says how to start them. Used by `make test`, `make run` and CI.
set -u
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}

pg_up() { pg_isready -q -h "$PGHOST" -p "$PGPORT" 2>/dev/null || python3 - "$PGHOST" "$PGPORT" <<'PY'
import socket, sys
s = socket.socket(); s.settimeout(1)
sys.exit(0 if s.connect_ex((sys.argv[1], int(sys.argv[2]))) == 0 else 1)
PY
}
redis_up() { python3 - "$REDIS_HOST" "$REDIS_PORT" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1) if True else None
s.sendall(b"PING\r\n"); sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
PY
} 2>/dev/null

wait_for() { for _ in $(seq 1 30); do "$1" && return 0; sleep 1; done; return 1; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "PostgreSQL is down; starting the local cluster" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
  # Not docker-compose.yml's postgres: it publishes no port and requires passwords (README).
  wait_for pg_up || { echo "PostgreSQL is not reachable at $PGHOST:$PGPORT. Start one as make run and make test expect (user postgres, trust, on loopback), e.g.: docker run -d --name dravo-postgres -p 127.0.0.1:5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16" >&2; exit 1; }
fi

if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "Redis is down; starting a local one" >&2
    redis-server --daemonize yes --port "$REDIS_PORT" --save "" --appendonly no >/dev/null || true
  fi
  wait_for redis_up || { echo "Redis is not reachable at $REDIS_HOST:$REDIS_PORT. Start one without a password on loopback, e.g.: docker run -d --name dravo-redis -p 127.0.0.1:6379:6379 redis:7" >&2; exit 1; }
fi
echo "PostgreSQL and Redis are up" >&2
