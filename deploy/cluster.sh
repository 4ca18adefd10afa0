#!/usr/bin/env bash
# Two youmeyou replicas behind nginx on this machine, without containers: the topology of
# deploy/compose.yaml on the system's PostgreSQL and Redis, with a Chroma server process.
#
#   deploy/cluster.sh            # or: make cluster
#
# Settings (environment): YMY_CLUSTER_PORT (8000, the load balancer), YMY_CLUSTER_DIR
# (var/cluster), YMY_CLUSTER_REPLICAS (2), YMY_TASK_STORE_URL (PostgreSQL db youmeyou),
# YMY_REDIS_URL (redis://127.0.0.1:6379/0). Every replica shares one encryption key, made
# once in the cluster dir. Ctrl-C (or SIGTERM) stops them all, each gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${YMY_CLUSTER_PORT:-8000}
dir=$(mkdir -p "${YMY_CLUSTER_DIR:-var/cluster}" && cd "${YMY_CLUSTER_DIR:-var/cluster}" && pwd)
replicas=${YMY_CLUSTER_REPLICAS:-2}
bin=${YMY_BIN:-.venv/bin}
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "cluster: nginx is not installed (apt-get install nginx-light)" >&2; exit 2; }

export YMY_TASK_STORE_URL=${YMY_TASK_STORE_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/youmeyou}
export YMY_REDIS_URL=${YMY_REDIS_URL:-redis://127.0.0.1:6379/0}
export YMY_PUBLIC_URL="http://127.0.0.1:${port}"   # the cards advertise the load balancer
[ -s "$dir/secret.key" ] || "$bin/python" -c \
  "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())" > "$dir/secret.key"
export YMY_ENCRYPTION_KEY=$(cat "$dir/secret.key")
if [[ $YMY_TASK_STORE_URL == postgresql* ]]; then
  "$bin/python" - <<'PY'
import asyncio, os, asyncpg
from sqlalchemy.engine import make_url
url = make_url(os.environ["YMY_TASK_STORE_URL"])
async def ensure() -> None:
    admin = await asyncpg.connect(user=url.username, password=url.password, host=url.host,
                                  port=url.port or 5432, database="postgres")
    if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", url.database):
        await admin.execute(f'CREATE DATABASE "{url.database}"')
    await admin.close()
asyncio.run(ensure())
PY
fi

pids=()
stop() { kill -TERM "${pids[@]}" 2>/dev/null || true; wait || true; }
trap stop EXIT INT TERM

chroma_port=$((port + 100))
"$bin/chroma" run --host 127.0.0.1 --port "$chroma_port" --path "$dir/chroma" >"$dir/chroma.log" 2>&1 &
pids+=($!)
export YMY_CHROMA_URL="http://127.0.0.1:${chroma_port}"
for _ in $(seq 120); do curl -sf "$YMY_CHROMA_URL/api/v2/heartbeat" >/dev/null && break; sleep 0.5; done

upstreams=""
for i in $(seq "$replicas"); do
  replica_port=$((port + i))
  YMY_PORT=$replica_port YMY_DATA_DIR="$dir/replica-$i" "$bin/youmeyou" serve \
    >"$dir/replica-$i.log" 2>&1 &
  pids+=($!)
  echo $! > "$dir/replica-$i.pid"
  upstreams+="server 127.0.0.1:${replica_port} max_fails=1 fail_timeout=2s; "
done
mkdir -p "$dir/nginx"
sed -e "s|@LISTEN@|127.0.0.1:${port}|" -e "s|@UPSTREAMS@|${upstreams}|" -e "s|@PREFIX@|$dir/nginx|g" \
  deploy/nginx.conf.template > "$dir/nginx/nginx.conf"
"$nginx" -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
echo "youmeyou cluster: http://127.0.0.1:${port} -> ${replicas} replicas (logs in $dir)"
wait
