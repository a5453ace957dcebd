#!/usr/bin/env bash
# Measures Skicka start-up on PGlite:  time to "Skicka is running" and RSS, first start (empty DATA_DIR) and restart.
unset RUST_BACKTRACE
cd "$(dirname "$0")/.."
D=$(mktemp -d)
for run in first restart; do
  start=$(date +%s.%N)
  DATA_DIR=$D PORT=18181 deno run -A main.ts > /tmp/m.out 2> /tmp/m.err &
  pid=$!
  until grep -q "Skicka is running" /tmp/m.err 2>/dev/null; do sleep 0.05; done
  end=$(date +%s.%N)
  sleep 1
  curl -s -o /dev/null http://127.0.0.1:18181/login
  rss=$(grep VmRSS /proc/$pid/status | awk '{print $2}')
  hwm=$(grep VmHWM /proc/$pid/status | awk '{print $2}')
  echo "$run: ready in $(echo "$end - $start" | bc) s, RSS $((rss/1024)) MiB, peak $((hwm/1024)) MiB"
  kill -TERM $pid; wait $pid; echo "exit $?"
done
rm -rf $D
